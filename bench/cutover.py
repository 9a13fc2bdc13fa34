"""A real release through the engine under continuous load (bar: zero failed requests).

Release 1.0.0 is deployed first; then 1.1.0 goes through the engine's blue-green steps 10 -> 50 -> 100 % (health,
smoke, analysis at each step, promotion, scale-down) while 8 keep-alive clients and 4 clients opening a new
connection per request run through the router the whole time, until at least 10,000 requests were sent.
Prints requests, failures and how long each weight change took (the router's admin-socket round trips).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.files import free_port
from shipyard.ledger import Ledger
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator
from shipyard.release.rollout import RolloutSpec
from shipyard.release.smoke import SmokeCheck
from tests.support.colours import ROOT

MIN_REQUESTS = 10_000
STEP_PAUSE = 10.0


class TimedBackend(LocalBackend):
    """The local backend, noting how long each weight change takes."""

    switches: ClassVar[list[tuple[dict[str, int], float]]] = []

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        started = time.perf_counter()
        super().set_weights(app, weights)
        self.switches.append((weights, (time.perf_counter() - started) * 1000))


with tempfile.TemporaryDirectory() as tmp:
    command = f"{sys.executable} -m tests.support.colour_server {{port}} $SHIPYARD_COLOUR"
    app = LocalApp(
        command=command, cwd=ROOT, router_port=free_port(), ports={"blue": free_port(), "green": free_port()}
    )
    backend = TimedBackend(Path(tmp) / "state", {"api": app})
    ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
    ledger.migrate()
    spec = RolloutSpec(pause=timedelta(seconds=STEP_PAUSE), scale_down_delay=timedelta(seconds=2))
    engine = Engine(ledger, backend, spec, [SmokeCheck("/health", json_field="colour")], poll=0.2)
    try:
        assert engine.deploy(ReleaseRequest("production", "api", "1.0.0", "sha1", "img", "bench")).succeeded
        backend.switches.clear()
        with LoadGenerator(backend.router_url("api"), keepalive_clients=8, fresh_clients=4) as load:
            started = time.perf_counter()
            outcome = engine.deploy(ReleaseRequest("production", "api", "1.1.0", "sha2", "img", "bench"))
            while load.total.requests < MIN_REQUESTS:
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        total = load.total
        print(f"release 1.1.0: {'promoted' if outcome.succeeded else 'ROLLED BACK: ' + outcome.reason}")
        print(f"load: 8 keep-alive + 4 new-connection clients, {total.requests} requests in {elapsed:.1f} s")
        for weights, ms in backend.switches:
            print(f"  switch to {weights}: {ms:.1f} ms")
        print(f"answered by: {dict(total.by_colour)}")
        print(f"failed requests: {total.failures} of {total.requests}  (bar: 0)  {dict(total.errors)}")
    finally:
        backend.shutdown("api")
        ledger.close()
