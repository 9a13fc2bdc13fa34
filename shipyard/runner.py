"""The one command runner every external tool goes through.

It enforces the timeout itself (own process group, killed at the limit) because a Prefect task timeout
cannot stop a blocked subprocess, and it redacts configured secret values from everything it returns.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shipyard.errors import ShipyardError
from shipyard.processes import Stopped, child_env, signal_group, stop_group, wait_group_gone, with_default_signals

KILL_GRACE_SECONDS = 3.0
STOP_GRACE_SECONDS = 10.0
MAX_CAPTURE_BYTES = 2_000_000

# Process groups of the commands `run` is waiting for now, in this process (for `stop_running`).
_running: set[int] = set()
_running_lock = threading.Lock()


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 40) -> str:
        """The last lines of stdout and stderr together: what a person reads first on failure."""
        text = "\n".join(part for part in (self.stdout.rstrip(), self.stderr.rstrip()) if part)
        return "\n".join(text.splitlines()[-lines:])


class CommandError(ShipyardError):
    """A command failed: shows the command, its exit code and both output streams."""

    def __init__(self, result: CommandResult, what: str = "") -> None:
        self.result = result
        reason = "timed out" if result.timed_out else f"exited {result.returncode}"
        head = f"{what}: " if what else ""
        super().__init__(
            f"{head}`{shlex.join(result.argv)}` {reason}\n"
            f"--- stdout ---\n{_last(result.stdout)}\n--- stderr ---\n{_last(result.stderr)}"
        )


class ToolNotFound(ShipyardError):
    """The executable is not installed where the command looked for it."""

    def __init__(self, tool: str, path: str) -> None:
        self.tool = tool
        super().__init__(f"{tool}: not found on PATH ({path})")


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    secrets: Iterable[str] = (),
    check: bool = False,
    what: str = "",
    stdin: Path | None = None,
) -> CommandResult:
    """Run argv to completion or to the timeout, whichever comes first.

    Output goes to files rather than pipes so that a grandchild holding a pipe open cannot block us
    after the tool itself has exited. Input, for a tool that reads only its standard input (ssh-keygen -Y verify),
    comes from the file `stdin` names, for the same reason: no pipe to feed; otherwise it is empty.
    """
    secrets = tuple(secrets)
    full_env = child_env(env)
    executable = _which(argv[0], full_env.get("PATH", ""))
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, _input(stdin) as source:
        proc = subprocess.Popen(
            with_default_signals([executable, *argv[1:]]),
            cwd=cwd,
            env=full_env,
            stdin=source,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        with _running_lock:
            _running.add(proc.pid)
        try:
            timed_out = not _reaped(proc, started + timeout)
            _kill_group(proc)
        finally:
            with _running_lock:
                _running.discard(proc.pid)
        result = CommandResult(
            argv=tuple(redact(a, secrets) for a in argv),
            returncode=proc.returncode,
            stdout=redact(_read(out), secrets),
            stderr=redact(_read(err), secrets),
            duration=time.monotonic() - started,
            timed_out=timed_out,
        )
    if check and not result.ok:
        raise CommandError(result, what)
    return result


def stop_running() -> int:
    """Kill every command `run` has running in this process, each with its whole group (a sandboxed command's PID
    namespace goes with it): for a process that is being stopped itself. Returns how many there were."""
    with _running_lock:
        groups = list(_running)
    for group in groups:
        signal_group(group, signal.SIGKILL)
    return len(groups)


def _input(path: Path | None) -> contextlib.AbstractContextManager[IO[bytes] | int]:
    return open(path, "rb") if path is not None else contextlib.nullcontext(subprocess.DEVNULL)


def _reaped(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Whether the tool exited by the deadline (then it is reaped and its exit code recorded).

    A pidfd becomes readable when the process exits, so we wake exactly then instead of polling.
    """
    pidfd = os.pidfd_open(proc.pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            return False
    finally:
        os.close(pidfd)
    proc.wait()
    return True


def shell(command: str) -> list[str]:
    """How a user's command line runs (checks, installs): bash, stopping at the first failure, like a CI step."""
    return ["bash", "-eo", "pipefail", "-c", command]


def _which(tool: str, path: str) -> str:
    found = shutil.which(tool, path=path)
    if found is None:
        raise ToolNotFound(tool, path)
    return found


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the tool and anything it left behind in its group: TERM, a grace period, then KILL; gone on return."""
    if proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=KILL_GRACE_SECONDS)
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_group_gone(proc.pid)


def _read(handle: IO[bytes]) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - MAX_CAPTURE_BYTES))
    return handle.read().decode("utf-8", errors="replace")


def _last(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty)"


def spawn(
    argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a long-lived server in its own session (its pid is its group), output to a log file, with default
    signal dispositions and this run's marker; the caller owns its lifetime and stops it with `stop`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = child_env(env)
    executable = _which(argv[0], full_env.get("PATH", ""))
    with open(log, "ab") as out:
        return subprocess.Popen(
            with_default_signals([executable, *argv[1:]]),
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[Any], name: str = "", grace: float = STOP_GRACE_SECONDS) -> Stopped:
    """Stop a spawned server and everything in its group: SIGTERM, up to `grace` seconds, then SIGKILL; reaped."""
    stopped = stop_group(proc.pid, grace, name or _program(proc))
    proc.wait()
    return stopped


def _program(proc: subprocess.Popen[Any]) -> str:
    args = [str(a) for a in proc.args] if isinstance(proc.args, list | tuple) else [str(proc.args)]
    return Path(args[args.index("--") + 1] if "--" in args else args[0]).name
