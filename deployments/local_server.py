"""A Prefect server on 127.0.0.1 for the demo and the tests (SQLite unless the database URL is configured)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import httpx

from shipyard.errors import ShipyardError
from shipyard.runner import spawn, stop

HOST = "127.0.0.1"
START_TIMEOUT = 120.0


@dataclass
class LocalServer:
    port: int
    process: Popen[bytes] | None  # None when a server was already running there

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(port: int, log: Path, prefect_home: Path | None = None) -> LocalServer:
    """Reuse a healthy server on the port, or start one and wait until it answers."""
    server = LocalServer(port, None)
    if healthy(server.api_url):
        return server
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_API_URL=server.api_url)
    env.pop("PREFECT_API_URL", None)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    prefect = str(Path(sys.executable).parent / "prefect")
    server.process = spawn([prefect, "server", "start", "--host", HOST, "--port", str(port)], log=log, env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if healthy(server.api_url):
            return server
        if server.process.poll() is not None:
            raise ShipyardError(f"prefect server exited with {server.process.returncode}; see {log}")
        time.sleep(0.5)
    server.stop()
    raise ShipyardError(f"prefect server did not become healthy in {START_TIMEOUT:g}s; see {log}")
