"""Shared set-up for benchmarks: a real Prefect server on 127.0.0.1 and fresh caches, then in-process flow runs."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deployments.local_server import LocalServer, ensure_server  # noqa: E402
from shipyard.files import free_port  # noqa: E402


def start(name: str) -> tuple[LocalServer, Path]:
    """Start a server with its own PREFECT_HOME and point this process at it (before Prefect is imported)."""
    work = Path(tempfile.mkdtemp(prefix=f"shipyard-bench-{name}-"))
    server = ensure_server(free_port(), work / "server.log", prefect_home=work / "server-home")
    os.environ.update(
        PREFECT_API_URL=server.api_url,
        PREFECT_HOME=str(work / "client-home"),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        SHIPYARD_HOME=str(work / "shipyard-home"),
    )
    return server, work


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
