"""Emergency rollback under load: seconds from the call until every request is answered by the previous release
(target < 5 s; the team's design promised 5 minutes), and failed requests during it (bar: 0).

Real HAProxy, real processes, SQLite ledger. Two releases are deployed through the engine first; the old colour
has been scaled down, so the rollback has to start the previous release again, health-check it, then switch.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.ledger import Ledger
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator
from shipyard.release.rollback import emergency_rollback
from shipyard.release.rollout import RolloutSpec
from shipyard.release.smoke import SmokeCheck
from tests.support.colours import ROOT, free_port

SPEC = RolloutSpec(pause=timedelta(seconds=1), min_samples=10, scale_down_delay=timedelta(seconds=1))

with tempfile.TemporaryDirectory() as tmp:
    command = f"{sys.executable} -m tests.support.colour_server {{port}} $SHIPYARD_COLOUR"
    app = LocalApp(
        command=command, cwd=ROOT, router_port=free_port(), ports={"blue": free_port(), "green": free_port()}
    )
    backend = LocalBackend(Path(tmp) / "state", {"api": app})
    ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
    ledger.migrate()
    engine = Engine(ledger, backend, SPEC, [SmokeCheck("/health")], poll=0.2)
    try:
        for version in ("1.0.0", "1.1.0"):
            outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", "img", "bench"))
            assert outcome.succeeded, outcome.reason
        url = backend.router_url("api") + "/"
        latest: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            """Note when 1.1.0 last answered: after that moment only 1.0.0 does."""
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    try:
                        if client.get(url).json()["version"] == "1.1.0":
                            latest["new"] = time.perf_counter()
                    except httpx.HTTPError:
                        pass

        with LoadGenerator(backend.router_url("api"), keepalive_clients=8, fresh_clients=4) as load:
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            time.sleep(1.0)
            started = time.perf_counter()
            result = emergency_rollback(ledger, backend, "production", "api", "bench", "benchmark")
            returned = time.perf_counter() - started
            time.sleep(1.0)
            stop.set()
            watcher.join()
        all_old_after = latest.get("new", started) - started
        print(f"rolled back {result.replaced.version} -> {result.restored.version} on {result.colour}")
        print(
            f"shipyard rollback returned after : {returned:.2f} s (starts the old release, health-checks it, switches)"
        )
        print(f"100% on the previous release after: {max(all_old_after, 0):.2f} s  (target < 5 s)")
        print(
            f"requests during the run: {load.total.requests}, failed: {load.total.failures} (bar: 0) "
            f"{dict(load.total.errors)}"
        )
    finally:
        backend.shutdown("api")
        ledger.close()
