"""Runs one release through the engine in its own process, so tests can kill it mid-step and run it again.

python -m tests.support.engine_driver STATE_DIR DB_URL ROUTER BLUE GREEN VERSION
Prints "step <name>" (flushed) before each step is carried out; exits 0 when promoted, 1 when rolled back.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from shipyard.ledger import Ledger
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.rollout import RolloutSpec
from shipyard.release.smoke import SmokeCheck
from tests.support.colours import ROOT, SERVER

SPEC = RolloutSpec(
    steps=(10, 50, 100),
    pause=timedelta(seconds=1),
    max_p95_ms=10_000,  # latency is judged in test_rollout's table; here a p95 measures the shared machine
    min_samples=10,
    health_timeout=timedelta(seconds=6),
    scale_down_delay=timedelta(seconds=1),
)


def main(state: str, db: str, router: str, blue: str, green: str, version: str) -> int:
    command = f"{sys.executable} {SERVER} {{port}} $SHIPYARD_COLOUR"
    app = LocalApp(command=command, cwd=ROOT, router_port=int(router), ports={"blue": int(blue), "green": int(green)})
    ledger = Ledger(db)
    ledger.migrate()
    engine = Engine(
        ledger,
        LocalBackend(Path(state), {"api": app}),
        SPEC,
        [SmokeCheck("/health")],
        poll=0.2,
        on_step=lambda decision: print(f"step {decision.step.value}", flush=True),
        lock_wait=10.0,  # a killed run's lock: its 1 s lease runs out, then this run takes over
        lease_seconds=1.0,
    )
    outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", f"img:{version}", "ci"))
    print(f"outcome {'promoted' if outcome.succeeded else 'rolled-back'}: {outcome.reason}", flush=True)
    return 0 if outcome.succeeded else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
