"""A Prefect server on 127.0.0.1 for the demo and the tests (SQLite unless the database URL is configured)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import httpx

from shipyard import tls
from shipyard.errors import ShipyardError
from shipyard.home import Home
from shipyard.processes import Stopped, process_alive, stop_group
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

    def stop(self) -> Stopped | None:
        return stop(self.process, "prefect server") if self.process is not None else None


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2, verify=tls.context()).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(
    port: int, log: Path, prefect_home: Path | None = None, database_url: str | None = None
) -> LocalServer:
    """Reuse a healthy server on the port, or start one and wait until it answers (on the database URL's database,
    or Prefect's configured one: SQLite by default)."""
    server = LocalServer(port, None)
    if healthy(server.api_url):
        return server
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_API_URL=server.api_url)
    env.pop("PREFECT_API_URL", None)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    if database_url is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
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


def up(home: Home, port: int) -> LocalServer:
    """`shipyard server up`: a server for this home, left running; `down` stops it (it records its pid)."""
    server = ensure_server(port, home.root / "prefect-server.log")
    if server.process is not None:
        _record(home).write_text(json.dumps({"pid": server.process.pid, "port": port}))
    return server


def recorded(home: Home) -> tuple[int, int] | None:
    """(pid, port) of the server `up` started for this home, while it runs."""
    try:
        data = json.loads(_record(home).read_text())
        pid, port = int(data["pid"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, port) if process_alive(pid) else None


def down(home: Home, grace: float = 10.0) -> Stopped | None:
    """Stop the server `up` started for this home (its whole process group); None if it started none that runs."""
    found = recorded(home)
    _record(home).unlink(missing_ok=True)
    return stop_group(found[0], grace, f"prefect server on 127.0.0.1:{found[1]}") if found else None


def _record(home: Home) -> Path:
    home.root.mkdir(parents=True, exist_ok=True)
    return home.root / "prefect-server.json"
