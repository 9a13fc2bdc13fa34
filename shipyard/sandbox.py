"""Where commands from the repository under check run: a bubblewrap sandbox.

A command from a pull request (an install, a lint, a test, a migration, a docs build) must not reach what protects
production. In the sandbox it has a PID namespace of its own (a timeout or a stop ends everything it started, a
`setsid` child included, and /proc shows no other process); of the machine it sees only the system folders, read-only
(`/usr`, `/etc`, `/opt`: no home, no /tmp, no /run with its sockets, no /var with the engines' data) and the folders
it is given (`readable`, and `writable`, the only ones it can change); it runs as an unprivileged user, its
environment is exactly the one given, and it has no network: an install reaches the package registries, and only
them, through the allow-list proxy it is given (shipyard.egress).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.egress import INSIDE, Egress
from shipyard.errors import ShipyardError
from shipyard.processes import MARKER

SANDBOX_USER = 65534  # nobody: owns nothing on the machine
SYSTEM = ("/usr", "/etc", "/opt")  # programs, their settings and CA bundles, local package stores
MERGED_USR = ("/bin", "/sbin", "/lib", "/lib64")  # symlinks into /usr on Debian; bound where they are folders


class SandboxUnavailable(ShipyardError):
    """The sandbox cannot be built here; the command is not run (never run unsandboxed instead)."""


@dataclass(frozen=True)
class Sandbox:
    writable: tuple[Path, ...]
    readable: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    egress: Egress | None = None

    def argv(self, command: Sequence[str], cwd: Path, *, root: bool) -> list[str]:
        """bwrap's command line for `command`. As root the command runs as SANDBOX_USER (setpriv, every capability
        dropped); otherwise as the caller inside a user namespace of its own."""
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--unshare-net"]
        args += [] if root else ["--unshare-user"]
        for folder in SYSTEM:
            args += ["--ro-bind-try", folder, folder]
        for folder in MERGED_USR:
            link = os.readlink(folder) if os.path.islink(folder) else None
            args += ["--symlink", link, folder] if link else ["--ro-bind-try", folder, folder]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
        for folder in self._passages():
            args += ["--perms", "0755", "--dir", folder]
        for readable in map(str, self.readable):
            args += ["--ro-bind", readable, readable]
        for writable in map(str, self.writable):
            args += ["--bind", writable, writable]
        if self.egress is not None:
            args += ["--perms", "0755", "--dir", str(Path(INSIDE).parent), "--ro-bind", str(self.egress.folder), INSIDE]
        args += ["--chdir", str(cwd), "--clearenv"]
        for name, value in sorted(self.env.items()):
            args += ["--setenv", name, value]
        if MARKER in os.environ:  # so a scan for survivors still finds anything that got out
            args += ["--setenv", MARKER, os.environ[MARKER]]
        if root:
            user = str(SANDBOX_USER)
            args += ["--", "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--inh-caps=-all",
                     "--bounding-set=-all", "--no-new-privs"]  # fmt: skip
        return [*args, "--", *(self.egress.wrap(list(command)) if self.egress else command)]

    def _passages(self) -> list[str]:
        """The folders above the ones given, made in the sandbox's own root and traversable by its user (on the
        machine they may be private, as pytest's and a user's home are); never a folder that is bound itself."""
        bound = [*self.readable, *self.writable]
        there = {Path(f) for f in ("/", "/tmp", "/var/tmp")}
        covered = [*map(Path, SYSTEM), *bound]
        above = {a for folder in bound for a in folder.parents} - there
        made = {a for a in above if not any(a == c or c in a.parents for c in covered)}
        return [str(a) for a in sorted(made, key=lambda a: len(a.parts))]


def sandboxed(sandbox: Sandbox, command: Sequence[str], cwd: Path) -> list[str]:
    """The command line to run; the writable folders are handed to the sandbox's user first."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap is not installed (Debian package bubblewrap): repository code never runs "
                                 "outside a sandbox")  # fmt: skip
    root = os.geteuid() == 0
    if root:
        for folder in sandbox.writable:
            _give(folder, SANDBOX_USER)
    return sandbox.argv(command, cwd, root=root)


@contextmanager
def temporary_beside(folder: Path) -> Iterator[Path]:
    """A sandbox's own temporary folder (its HOME and TMPDIR), next to the folder it works in and not inside it: a
    linter run on `.` must not see the tools' temporary files, and an install must not ship them."""
    temp = Path(tempfile.mkdtemp(prefix=f"{folder.name}-tmp-", dir=folder.parent))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def read_back(path: Path, inside: Path, limit: int = 50_000_000) -> bytes | None:
    """A file a sandboxed command wrote, read by the pipeline: only a regular file that really is inside `inside`.
    A symlink the command planted there (to /etc/shadow, to a key) would make the pipeline read it for them."""
    try:
        if not path.resolve().is_relative_to(inside.resolve()):
            return None
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        return file.read(limit) if stat.S_ISREG(os.fstat(file.fileno()).st_mode) else None


def reclaim(folder: Path) -> None:
    """Hand what a sandbox wrote back to the pipeline's user (as root the sandbox ran as SANDBOX_USER)."""
    if os.geteuid() == 0:
        _give(folder, 0)


def _give(folder: Path, uid: int) -> None:
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink():
            os.chown(path, uid, uid)
