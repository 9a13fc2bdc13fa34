"""Real releases through the engine under continuous load (bar: zero failed requests).

Release 1.0.0 is deployed first; then three releases (1.1.0, 1.2.0, 1.3.0) each go through the engine's blue-green
steps 10 -> 50 -> 100 % (health, smoke, analysis at each step, promotion, scale-down) while 8 keep-alive clients and
4 clients opening a new connection per request run through the router, at least 10,000 requests in all.
Baselines from the same run: before each release the same load runs for a few seconds with nothing changing
(latency, throughput), and the router's admin socket answers a read (what a weight change costs beyond one round
trip). Prints each run's figures and their median; exits non-zero on a failed request or release, never on a time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from _harness import RUNS, colour_command, fail, finish, median, ratio, timed

from shipyard.files import free_port
from shipyard.ledger import Ledger
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator, Window
from shipyard.release.rollout import RolloutSpec
from shipyard.release.smoke import SmokeCheck

MIN_REQUESTS = 10_000  # over the three releases
STEP_PAUSE = 10.0
STEADY_SECONDS = 5.0
KEEPALIVE, FRESH = 8, 4


class TimedBackend(LocalBackend):
    """The local backend, noting how long each weight change takes."""

    switches: ClassVar[list[tuple[dict[str, int], float]]] = []

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        started = time.perf_counter()
        super().set_weights(app, weights)
        self.switches.append((weights, (time.perf_counter() - started) * 1000))


def percentile(window: Window, cut: int) -> float:
    return statistics.quantiles(window.latencies_ms, n=100)[cut - 1] if len(window.latencies_ms) > 1 else 0.0


problems: list[str] = []
rounds: list[dict[str, float]] = []
with tempfile.TemporaryDirectory(prefix="shipyard-bench-cutover-") as tmp:
    ports = {"blue": free_port(), "green": free_port()}
    app = LocalApp(command=colour_command(), cwd=Path(tmp), router_port=free_port(), ports=ports)
    backend = TimedBackend(Path(tmp) / "state", {"api": app})
    ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
    ledger.migrate()
    spec = RolloutSpec(pause=timedelta(seconds=STEP_PAUSE), scale_down_delay=timedelta(seconds=2))
    engine = Engine(ledger, backend, spec, [SmokeCheck("/health", json_field="colour")], poll=0.2)
    try:
        first = engine.deploy(ReleaseRequest("production", "api", "1.0.0", "sha0", "img", "bench"))
        if not first.succeeded:
            fail(f"the first release 1.0.0 did not go out: {first.reason}")
        print(f"cutover under load: {KEEPALIVE} keep-alive + {FRESH} new-connection clients through the router;")
        print(f"{RUNS} releases, each 10 -> 50 -> 100 % with {STEP_PAUSE:g} s analysis per step")
        for run in range(1, RUNS + 1):
            version = f"1.{run}.0"
            reads = [timed(lambda: backend.weights("api"))[0] * 1000 for _ in range(10)]
            backend.switches.clear()
            with LoadGenerator(backend.router_url("api"), keepalive_clients=KEEPALIVE, fresh_clients=FRESH) as load:
                time.sleep(STEADY_SECONDS)
                steady = load.open_window()
                started = time.perf_counter()
                outcome = engine.deploy(ReleaseRequest("production", "api", version, f"sha{run}", "img", "bench"))
                while load.window.requests < MIN_REQUESTS / RUNS:
                    time.sleep(0.1)
                elapsed = time.perf_counter() - started
                during = load.open_window()
            failed = steady.failures + during.failures
            colour = outcome.release.colour
            steps = ", ".join(f"{w.get(colour, 0)}% {ms:.0f} ms" for w, ms in backend.switches)
            print(
                f"  {version} ({colour}): {'promoted' if outcome.succeeded else 'ROLLED BACK: ' + outcome.reason}; "
                f"{during.requests} requests in {elapsed:.1f} s, failed {failed}; weight changes: {steps}; "
                f"answered by {dict(during.by_colour)}"
            )
            if not outcome.succeeded:
                problems.append(f"release {version} was rolled back: {outcome.reason}")
            if failed:
                problems.append(f"release {version}: {failed} failed requests (bar: 0) {dict(during.errors)}")
            rounds.append(
                {
                    "steady p50": percentile(steady, 50),
                    "steady p99": percentile(steady, 99),
                    "release p50": percentile(during, 50),
                    "release p99": percentile(during, 99),
                    "steady rps": steady.requests / STEADY_SECONDS,
                    "release rps": during.requests / elapsed,
                    "switch": max((ms for _, ms in backend.switches), default=0.0),
                    "read": statistics.median(reads),
                    "requests": during.requests + steady.requests,
                    "failed": failed,
                }
            )
    finally:
        backend.shutdown("api")
        ledger.close()


def of(key: str) -> list[float]:
    return [r[key] for r in rounds]


steady50 = median("steady load p50 latency (baseline)", of("steady p50"), "ms", 1)
release50 = median("during the release p50 latency", of("release p50"), "ms", 1)
steady99 = median("steady load p99 latency (baseline)", of("steady p99"), "ms", 1)
release99 = median("during the release p99 latency", of("release p99"), "ms", 1)
steady_rps = median("steady load requests/s (baseline)", of("steady rps"), "/s", 0)
release_rps = median("during the release requests/s", of("release rps"), "/s", 0)
read = median("admin socket read (baseline)", of("read"), "ms", 1)
switch = median("slowest weight change", of("switch"), "ms", 1)
ratio("p50 latency release/steady", release50, steady50)
ratio("p99 latency release/steady", release99, steady99)
ratio("throughput release/steady", release_rps, steady_rps)
ratio("slowest weight change/admin read", switch, read)
print(f"failed requests: {sum(of('failed')):.0f} of {sum(of('requests')):.0f}  (bar: 0)")
finish(problems)
