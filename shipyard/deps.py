"""Dependency installs, cached on disk by the hash of the lock file, the toolchain and the install command."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard import git, registries
from shipyard.config.apps import App
from shipyard.egress import Egress, egress, registry_endpoints, tool_defaults
from shipyard.environment import carried
from shipyard.errors import ShipyardError
from shipyard.home import Home
from shipyard.runner import CommandResult, run, shell
from shipyard.sandbox import Sandbox, reclaim, sandboxed, temporary_beside
from shipyard.toolchains import Toolchain, locked, resolve

INSTALL_TIMEOUT = 900
DONE_MARKER = ".shipyard-complete"
DEFAULT_INSTALL = {"python": "pip install --no-input -r {lockfile}", "node": "npm ci --no-audit --no-fund"}

# Only these variables reach the tools a repository runs: its code must not see the pipeline's secrets.
PASSED_ENV = ("HOME", "LANG", "TZ", "TMPDIR", "USER", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
PASSED_PREFIXES = ("LC_", "PIP_", "SSL_CERT_", "npm_config_", "NPM_CONFIG_")
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


class DependencyInstallFailed(ShipyardError):
    pass


@dataclass(frozen=True)
class Prepared:
    """An app's dependencies installed for one toolchain: what a check needs on its PATH."""

    app: str
    toolchain: Toolchain
    key: str
    root: str

    @property
    def node_modules(self) -> Path | None:
        modules = Path(self.root) / "src" / "node_modules"
        return modules if self.toolchain.kind == "node" else None

    @property
    def path_dirs(self) -> tuple[str, ...]:
        if self.toolchain.kind == "python":
            return (str(Path(self.root) / "venv" / "bin"), self.toolchain.bin_dir)
        return (str(Path(self.root) / "src" / "node_modules" / ".bin"), self.toolchain.bin_dir)

    @property
    def python(self) -> str:
        """The interpreter of a Python app's virtualenv (its own packages: Alembic, the app's models...)."""
        return str(Path(self.root) / "venv" / "bin" / "python")

    def sandbox(
        self,
        writable: tuple[Path, ...],
        temp: Path,
        *,
        readable: tuple[Path, ...] = (),
        egress: Egress | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Sandbox:
        """Where a command of this app runs: its own folders writable, these dependencies and toolchain read-only,
        an environment from nothing but the locale, the CA bundle and `env` (an install's registry settings, a
        migration's database URL), and no way out but `egress`."""
        path = os.pathsep.join([*self.path_dirs, *SYSTEM_PATH])
        venv = {"VIRTUAL_ENV": str(Path(self.root) / "venv")} if self.toolchain.kind == "python" else {}
        own = {"PATH": path, "HOME": str(temp), "TMPDIR": str(temp), "CI": "true"} | venv
        return Sandbox(
            writable=(*writable, temp),
            readable=(Path(self.root), *self.toolchain_folders, *readable),
            env=carried() | own | (egress.env() if egress else {}) | dict(env or {}),
            egress=egress,
        )

    @property
    def toolchain_folders(self) -> tuple[Path, ...]:
        """The toolchain's installation as a sandbox must see it: the folder above its bin, and the prefix of the
        interpreter it really runs (a venv's python and a shim or a `python3.11` on PATH may link into pyenv, asdf,
        /usr/local...)."""
        program = Path(self.python) if self.toolchain.kind == "python" else Path(self.toolchain.bin_dir) / "node"
        real = Path(os.path.realpath(program))
        folders = (Path(self.toolchain.bin_dir).parent, real.parent.parent)
        return tuple(f for f in dict.fromkeys(folders) if f != Path("/"))

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = tool_env(base)
        env["PATH"] = os.pathsep.join([*self.path_dirs, env.get("PATH", "")])
        if self.toolchain.kind == "python":
            env["VIRTUAL_ENV"] = str(Path(self.root) / "venv")
        return env


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    source = dict(os.environ) if base is None else base
    env = {k: v for k, v in source.items() if k in PASSED_ENV or k.startswith(PASSED_PREFIXES)}
    env["PATH"] = source.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["CI"] = "true"
    return env


def install_command(app: App) -> str:
    return app.install or DEFAULT_INSTALL[app.toolchain].format(lockfile=app.lockfile)


def cache_key(app: App, lockfile: str, toolchain: Toolchain) -> str:
    digest = hashlib.sha256()
    for part in (toolchain.kind, toolchain.full_version, install_command(app), lockfile):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:20]


def install_folder(store: Path, name: str, app: App, lockfile: str, toolchain: Toolchain) -> Path:
    return store / toolchain.kind / f"{name}-{cache_key(app, lockfile, toolchain)}"


def prepare(name: str, app: App, version: str, workspace: Path, sha: str, home: Home) -> Prepared:
    """The toolchain (installed if need be) and the app's dependencies for it."""
    toolchain = resolve(app.toolchain, version, home.toolchains)
    return install(name, app, toolchain, workspace, sha, home.deps)


def install(name: str, app: App, toolchain: Toolchain, workspace: Path, sha: str, store: Path) -> Prepared:
    lock_path = f"{app.path}/{app.lockfile}"
    lockfile = git.read_file(workspace, sha, lock_path)
    if lockfile is None:
        raise DependencyInstallFailed(f"{name}: lock file {lock_path} is missing at {sha[:12]}")
    root = install_folder(store, name, app, lockfile, toolchain)
    prepared = Prepared(name, toolchain, cache_key(app, lockfile, toolchain), str(root))
    with locked(root):
        if (root / DONE_MARKER).exists():
            return prepared
        if root.exists():
            shutil.rmtree(root)  # a previous install died half-way
        git.export(workspace, sha, [app.path], root / "export")
        (root / "export" / app.path).rename(root / "src")
        shutil.rmtree(root / "export")
        if toolchain.kind == "python":
            _must(
                run(
                    [str(Path(toolchain.bin_dir) / f"python{toolchain.version}"), "-m", "venv", str(root / "venv")],
                    timeout=120,
                ),
                name,
                "creating the virtualenv",
            )
        command = install_command(app)
        settings = registries.machine_settings()
        with temporary_beside(root) as temp, egress(registry_endpoints(settings, tool_defaults(settings))) as gate:
            sandbox = prepared.sandbox((root,), temp, egress=gate, env=settings)
            result = run(sandboxed(sandbox, shell(command), root / "src"), timeout=INSTALL_TIMEOUT)
        reclaim(root)  # what the install wrote is the pipeline's again: no sandboxed command may change it
        _must(result, name, f"`{command}`", gate.refusals())
        (root / DONE_MARKER).write_text(prepared.key)
    return prepared


def _must(result: CommandResult, name: str, what: str, refusals: str = "") -> None:
    if not result.ok:
        raise DependencyInstallFailed(f"{name}: {what} failed (exit {result.returncode}):\n{result.tail(20)}{refusals}")
