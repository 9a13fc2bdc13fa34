"""How Shipyard starts, stops and accounts for the processes it leaves behind.

Why this exists: a process started in the background by a non-interactive shell (`cmd &` in a script, nohup, many
supervisors) inherits SIGINT as *ignored*, and an ignored signal survives exec. Prefect's worker stops on SIGTERM
by sending itself SIGINT, so such a worker never stops. Every child therefore starts with default dispositions,
every stop is bounded (a grace period, then the whole process group is killed) and says which of the two it was,
and every child carries the marker of the run that started it so the run can list what outlived it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MARKER = "SHIPYARD_RUN_MARKER"
POLL_SECONDS = 0.05

log = logging.getLogger("shipyard.processes")


def with_default_signals(argv: list[str]) -> list[str]:
    """argv run with every signal at its default disposition (coreutils env resets them, then execs)."""
    env = shutil.which("env") or "/usr/bin/env"
    return [env, "--default-signal", "--", *argv]


def restore_default_signals() -> None:
    """For an entry point (CLI, demo, test session): undo what a background start left ignored, so this process
    stops on SIGINT/SIGTERM and its children (whatever starts them, Prefect included) get default dispositions."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGQUIT):
        if signal.getsignal(sig) is signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


def child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment a child starts with: the one given (default ours), plus this run's marker if there is one."""
    full = dict(env) if env is not None else dict(os.environ)
    if MARKER in os.environ:
        full.setdefault(MARKER, os.environ[MARKER])
    return full


@dataclass(frozen=True)
class Stopped:
    """How a stop ended, in words for the person watching."""

    name: str
    pid: int
    how: str  # "not running" | "exited" | "killed"
    seconds: float
    grace: float

    def __str__(self) -> str:
        who = f"{self.name} (pid {self.pid})"
        if self.how == "not running":
            return f"{who} was not running"
        if self.how == "exited":
            return f"{who} stopped {self.seconds:.1f} s after SIGTERM"
        return f"{who} did not stop within {self.grace:g} s of SIGTERM: killed its process group"


def stop_group(pgid: int, grace: float, name: str = "process") -> Stopped:
    """Stop a process group we started (maybe from another process): TERM, up to `grace` seconds for every member
    to go, then KILL whatever is left of the group. Logged and returned, so callers can say which it was."""
    started = time.monotonic()
    if not _group_alive(pgid):
        return Stopped(name, pgid, "not running", 0.0, grace)
    signal_group(pgid, signal.SIGTERM)
    wait_group_gone(pgid, started + grace - time.monotonic())
    how = "killed" if _group_alive(pgid) else "exited"
    signal_group(pgid, signal.SIGKILL)
    wait_group_gone(pgid)
    stopped = Stopped(name, pgid, how, time.monotonic() - started, grace)
    (log.warning if how == "killed" else log.info)("%s", stopped)
    return stopped


def process_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    stat = _stat(pid)
    return stat is not None and stat.state != "Z"


@dataclass(frozen=True)
class Survivor:
    pid: int
    session: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (session {self.session}): {self.command}"


def marked(marker: str, spared_sessions: Iterable[int] = ()) -> list[Survivor]:
    """Live processes (other than this one and its ancestors) whose environment carries the marker, except those in
    the sessions named: what a run left behind."""
    spared = set(spared_sessions)
    mine = _ancestors(os.getpid())
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None or stat.state == "Z" or stat.session in spared:
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append(Survivor(pid, stat.session, command[:200]))
    return found


def wait_for_none(marker: str, spared_sessions: Iterable[int] = (), timeout: float = 5.0) -> list[Survivor]:
    """Survivors still there after `timeout` seconds (processes that were just stopped may take a moment)."""
    deadline = time.monotonic() + timeout
    while (left := marked(marker, spared_sessions)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def kill_survivors(survivors: Iterable[Survivor]) -> None:
    """SIGKILL each one by pid: every process carrying the marker is listed itself, and a survivor that shares a
    session or group with its caller (a child started without a session of its own) must not take the caller along."""
    for survivor in survivors:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(survivor.pid, signal.SIGKILL)


@dataclass(frozen=True)
class _Stat:
    state: str
    group: int
    session: int
    parent: int


def _stat(pid: int) -> _Stat | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return _Stat(state=fields[0], parent=int(fields[1]), group=int(fields[2]), session=int(fields[3]))


def _ancestors(pid: int) -> set[int]:
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        stat = _stat(pid)
        if stat is None:
            break
        pid = stat.parent
    return chain


def _group_alive(pgid: int) -> bool:
    """A member of the group still runs. Membership is what counts: after the leader is reaped its pid may be
    reused by a process outside the group."""
    if not _has_members(pgid):
        return False
    leader = _stat(pgid)
    if leader is not None and leader.group == pgid and leader.state != "Z":
        return True
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat.group == pgid and stat.state != "Z":
                return True
    return False


def wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Until no member of the group runs any more (zombies count as gone). A SIGKILL takes effect only when the
    kernel next schedules each member: on a loaded machine a killed child was still running when we returned."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)


def _has_members(pgid: int) -> bool:
    """Cheap first look (no /proc walk): does the group have any member at all, zombies included?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
