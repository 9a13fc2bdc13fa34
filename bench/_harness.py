"""What every benchmark shares: the project on sys.path from any folder, a real Prefect server on 127.0.0.1 with
fresh homes, the stand-in app and the `shipyard` command by absolute path, the median of three runs, a stop of
everything on SIGTERM or Ctrl-C, and an exit code that says only whether something functionally failed.

A bench prints figures and ratios against a baseline measured in the same run; it never fails on a time.
"""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the clone's own code, whatever the current folder and PYTHONPATH

from deployments.local_server import LocalServer, ensure_server  # noqa: E402
from shipyard.files import free_port  # noqa: E402
from shipyard.processes import MARKER, kill_survivors, wait_for_none  # noqa: E402

RUNS = 3  # a figure is the median of three runs: one noisy run moves it no more than a quiet one
COLOUR_SERVER = ROOT / "tests" / "support" / "colour_server.py"  # standard library only: runs as a plain script


def stop_on_signals() -> None:
    """SIGTERM (a timeout, CI cancelling) and SIGINT unwind the bench like an error, so each `finally:` stops what
    it started. SIGINT is reset too: a bench started with `&` from a script inherits it as ignored."""

    def unwind(signum: int, frame: object) -> NoReturn:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)
    signal.signal(signal.SIGINT, unwind)


stop_on_signals()
# What the bench starts (the `shipyard` command, the relay, Prefect) runs this virtualenv's install, as an
# operator's would: a PYTHONPATH left pointing at another checkout must not shadow it.
os.environ.pop("PYTHONPATH", None)
# Every process the bench starts, and what those start, carries this marker: finish() finds any that outlived it.
BENCH_MARKER = f"bench-{uuid.uuid4().hex[:12]}"
os.environ[MARKER] = BENCH_MARKER


def start(name: str) -> tuple[LocalServer, Path]:
    """Start a server with its own PREFECT_HOME and point this process at it (before Prefect is imported); every
    home the bench uses is under a fresh temporary folder, never the developer's own."""
    work = Path(tempfile.mkdtemp(prefix=f"shipyard-bench-{name}-"))
    server = ensure_server(free_port(), work / "server.log", prefect_home=work / "server-home")
    os.environ.update(
        PREFECT_API_URL=server.api_url,
        PREFECT_HOME=str(work / "client-home"),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        SHIPYARD_HOME=str(work / "shipyard-home"),
    )
    for shared in ("SHIPYARD_TOOLS", "SHIPYARD_CACHE"):  # installs happen under the fresh home, not a shared folder
        os.environ.pop(shared, None)
    os.environ.pop("SHIPYARD_LEDGER_URL", None)
    return server, work


def stop_server(server: LocalServer) -> None:
    """Send the flow runs' last logs, then stop the server (bounded: TERM, grace, KILL of its group)."""
    if "prefect" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
    print(f"stopped: {server.stop()}")


def colour_command() -> str:
    """The stand-in app the local backend starts, as a script by its absolute path: it runs in any folder, with or
    without the project on PYTHONPATH ({port} and $SHIPYARD_COLOUR are filled in by the backend)."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(COLOUR_SERVER))} {{port}} $SHIPYARD_COLOUR"


def shipyard_command() -> list[str]:
    """`shipyard` as an operator runs it: the console script installed beside this interpreter (`make install`)."""
    script = Path(sys.executable).parent / "shipyard"
    if not script.exists():
        fail(f"no `shipyard` command beside {sys.executable}: run the bench with the project's virtualenv (make bench)")
    return [str(script)]


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of action() and what it returned."""
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def flow_run_seconds(state: Any) -> float:
    """The run time the Prefect server recorded for a flow run (excludes client start-up and teardown)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    return float(run.total_run_time.total_seconds())


def median(label: str, values: Sequence[float], unit: str = "s", digits: int = 2) -> float:
    """Print the runs and their median on one line; returns the median."""
    middle = statistics.median(values)
    runs = "  ".join(f"{value:.{digits}f}" for value in values)
    print(f"{label:<40} {runs}   median {middle:.{digits}f} {unit}")
    return middle


def ratio(label: str, value: float, baseline: float, target: str = "") -> float:
    """Print value/baseline (both medians of this run); target is the informational goal, never an assertion."""
    result = value / baseline if baseline else float("inf")
    print(f"{label:<40} {result:.3f}{'  (' + target + ')' if target else ''}")
    return result


def fail(message: str) -> NoReturn:
    """Something functionally failed (not a time): say what, exit non-zero."""
    print(f"FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def finish(problems: Sequence[str]) -> None:
    """Exit non-zero when something functionally failed during the bench, or when a process it started is still
    running (listed, then killed); times alone never fail it."""
    atexit.unregister(_on_exit)
    problems = [*problems, *(f"left running by the bench (now killed): {s}" for s in _kill_survivors())]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print("left running by the bench: nothing")


def _kill_survivors() -> list[str]:
    """What the bench started and is still running after a moment to finish stopping: killed, and listed."""
    survivors = wait_for_none(BENCH_MARKER, timeout=10)
    kill_survivors(survivors)
    while True:  # collect children stopped by pid (colours, routers), so none shows as defunct
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    return [str(s) for s in survivors]


@atexit.register
def _on_exit() -> None:
    """A bench that ended early (an error) still leaves nothing running."""
    for survivor in _kill_survivors():
        print(f"left running by the bench (now killed): {survivor}", file=sys.stderr)
