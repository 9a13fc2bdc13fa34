"""`shipyard rollback` under load: seconds from running the command until every request is answered by the
previous release (target < 5 s; the team's design promised 5 minutes), and failed requests (bar: 0).

Real HAProxy, real processes, SQLite ledger under a temporary SHIPYARD_HOME. Two releases are deployed through
the engine first; the old colour was scaled down, so the rollback starts the previous release again,
health-checks it, then switches. The command runs as its own process, as an operator would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.release import setup
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.probe import LoadGenerator
from tests.support.colours import ROOT

CONFIG = """\
version: 1
project: bench
apps:
  api:
    path: api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks: {{lint: "true"}}
    serve:
      command: {python} -m tests.support.colour_server {{port}} $SHIPYARD_COLOUR
      smoke: [{{path: /health}}]
environments:
  production:
    target: {{backend: local, ports: {{api: {{router: {router}, blue: {blue}, green: {green}}}}}}}
    rollout: {{pause_seconds: 1, min_samples: 10, scale_down_delay_seconds: 1}}
"""

with tempfile.TemporaryDirectory() as tmp:
    config_path = Path(tmp) / "shipyard.yaml"
    config_path.write_text(
        CONFIG.format(python=sys.executable, router=free_port(), blue=free_port(), green=free_port())
    )
    os.environ["SHIPYARD_HOME"] = str(Path(tmp) / "home")
    os.environ.pop("SHIPYARD_LEDGER_URL", None)
    config, home = load_config(config_path), Home.from_env()
    backend = setup.backend_for(config, "production", home)
    ledger = Ledger()
    ledger.migrate()
    engine = Engine(ledger, backend, setup.rollout_spec(config, "production"), setup.smoke_checks(config, "api"))
    try:
        for version in ("1.0.0", "1.1.0"):
            outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", "img", "bench"))
            assert outcome.succeeded, outcome.reason
        url = backend.router_url("api") + "/"
        last_new: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            """Note when 1.1.0 last answered: from then on only 1.0.0 does."""
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    try:
                        if client.get(url).json()["version"] == "1.1.0":
                            last_new.append(time.perf_counter())
                    except httpx.HTTPError:
                        pass

        with LoadGenerator(backend.router_url("api"), keepalive_clients=8, fresh_clients=4) as load:
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            time.sleep(1.0)
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "rollback",
                    "production",
                    "--app",
                    "api",
                    "--as",
                    "bench",
                    "--reason",
                    "benchmark",
                    "--config",
                    str(config_path),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            command_seconds = time.perf_counter() - started
            time.sleep(1.0)
            stop.set()
            watcher.join()
        assert done.returncode == 0, done.stdout + done.stderr
        switched = (last_new[-1] if last_new else started) - started
        print(done.stdout.strip())
        print(
            f"`shipyard rollback` ran for       : {command_seconds:.2f} s (process start, restart old release, "
            "health check, switch)"
        )
        print(f"100% on the previous release after: {max(switched, 0.0):.2f} s  (target < 5 s)")
        print(
            f"requests during the run: {load.total.requests}, failed: {load.total.failures} (bar: 0) "
            f"{dict(load.total.errors)}"
        )
    finally:
        backend.shutdown("api")  # type: ignore[attr-defined]
        ledger.close()
