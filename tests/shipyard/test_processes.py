"""Children start with default signal dispositions, stops are bounded and say how they ended, and a run can list
what it left behind (shipyard/processes.py, through the one command runner)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.processes import MARKER, kill_survivors, marked, process_alive, stop_group
from shipyard.runner import run, spawn, stop


@contextmanager
def started_in_background() -> Iterator[None]:
    """As if this process had been started by `cmd &` in a script or by nohup: SIGINT (and SIGTERM) ignored."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in before:
        signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


STANDARD = (1 << 31) - 1  # signals 1-31; 32 and 33 belong to the C library's threads and no exec resets them


def ignored_mask(status: str) -> int:
    """The standard signals a process ignores, from /proc/PID/status."""
    (line,) = [line for line in status.splitlines() if line.startswith("SigIgn:")]
    return int(line.split()[1], 16) & STANDARD


def test_a_child_of_a_backgrounded_process_starts_with_no_signal_ignored() -> None:
    with started_in_background():
        result = run(["cat", "/proc/self/status"])
    assert ignored_mask(result.stdout) == 0


# Prefect's worker stops on SIGTERM by sending itself SIGINT; with SIGINT ignored it never stops.
WORKER_LIKE = textwrap.dedent("""
    import os, signal, time
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
""")


def test_a_worker_that_turns_sigterm_into_sigint_stops_when_started_from_a_backgrounded_process(
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    with started_in_background():
        process = spawn([sys.executable, "-c", WORKER_LIKE], log=log)
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = stop(process, "worker-like", grace=5)
    assert stopped.how == "exited", str(stopped)
    assert "stopped" in str(stopped) and "after SIGTERM" in str(stopped)


def test_a_process_group_that_ignores_sigterm_is_killed_after_the_grace_and_the_stop_says_so(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"trap '' TERM; (trap '' TERM; sleep 300) & echo $! > {pidfile}; wait"
    process = spawn(["bash", "-c", script], log=tmp_path / "log")
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the shell creates the file before it writes the pid
    child = int(pidfile.read_text())
    stopped = stop(process, "stubborn", grace=0.5)
    assert stopped.how == "killed"
    assert str(stopped) == (
        f"stubborn (pid {process.pid}) did not stop within 0.5 s of SIGTERM: killed its process group"
    )
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(child), "a member of the group outlived the stop"


def test_stopping_what_is_not_running_says_so(tmp_path: Path) -> None:
    process = spawn(["true"], log=tmp_path / "log")
    process.wait()
    assert stop_group(process.pid, 1, "gone").how == "not running"


def test_a_run_finds_the_processes_carrying_its_marker_and_not_those_it_spares(tmp_path: Path) -> None:
    marker = f"test-{uuid.uuid4().hex[:8]}"
    env = {"PATH": "/usr/bin:/bin", MARKER: marker}
    kept = spawn(["sleep", "60"], log=tmp_path / "kept.log", env=env)
    stray = spawn(["sleep", "60"], log=tmp_path / "stray.log", env=env)
    try:
        deadline = time.monotonic() + 10
        while len(marked(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # a child shows its own environment only once it has exec'd (slow on a loaded machine)
        found = marked(marker, spared_sessions=[kept.pid])
        assert [s.pid for s in found] == [stray.pid]
        assert "sleep 60" in found[0].command
    finally:
        stop(kept)
        stop(stray)
    assert marked(marker) == []


def test_a_child_inherits_the_run_marker_even_with_an_environment_built_from_nothing() -> None:
    result = run(["env"], env={"PATH": "/usr/bin:/bin"})
    assert f"{MARKER}={os.environ[MARKER]}" in result.stdout.splitlines()


def test_killing_a_survivor_that_shares_our_session_kills_only_it() -> None:
    marker = f"test-{uuid.uuid4().hex[:8]}"
    # Started without a session of its own: its session and group are this test process's.
    child = subprocess.Popen(["sleep", "60"], env={"PATH": "/usr/bin:/bin", MARKER: marker})
    try:
        (survivor,) = marked(marker)
        assert survivor.pid == child.pid and survivor.session == os.getsid(0)
        kill_survivors([survivor])
        assert child.wait(10) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
    assert marked(marker) == []  # and this process is still here to say so
