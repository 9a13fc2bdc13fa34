"""Real releases through the engine under continuous load (bar: zero failed requests).

Release 1.0.0 is deployed first; then three releases (1.1.0, 1.2.0, 1.3.0) each go through the engine's blue-green
steps 10 -> 50 -> 100 % (health, smoke, analysis at each step, promotion, scale-down) while 8 keep-alive clients and
4 clients opening a new connection per request run through the router, at least 10,000 requests in all.
Baselines from the same run: before each release the same load runs for a few seconds with nothing changing
(latency, throughput), and the router's admin socket answers a read (what a weight change costs beyond one round
trip). Then, under the same load, operators' commands on releases in progress, through control.carry_out (the code
of `shipyard rollout ...` and of the rollout-command deployment): pause at 10% (the weight must hold past a step's
analysis), resume, promote --full (straight to 100%), and abort at 10% of the next release (back to 0%); each is
timed from the command to the engine honouring it (bar: within a pass, 1 s). Prints each run's figures and their
median; exits non-zero on a failed request, release or command, never on a time.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from _harness import RUNS, colour_command, fail, finish, median, ratio, timed

from shipyard.files import free_port
from shipyard.ledger import Ledger
from shipyard.release import control
from shipyard.release.engine import Engine, Outcome, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator, Window
from shipyard.release.rollout import Decision, RolloutSpec
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
honoured: list[tuple[str, float]] = []  # (command, seconds from the command to the engine acting on it)
decisions: list[tuple[float, Decision]] = []


def until(what: str, condition: Callable[[], bool], timeout: float = 60) -> float:
    """Seconds until condition() holds (polled every 10 ms); fails the bench when it never does."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if condition():
            return time.perf_counter() - started
        time.sleep(0.01)
    fail(f"{what}: not within {timeout:g} s")
    raise AssertionError("unreachable")


def in_background(engine: Engine, version: str, outcomes: list[Outcome]) -> threading.Thread:
    request = ReleaseRequest("production", "api", version, f"sha-{version}", "img", "bench")
    thread = threading.Thread(target=lambda: outcomes.append(engine.deploy(request)), daemon=True)
    thread.start()
    return thread


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
        print("operator commands under the same load (control.carry_out, as `shipyard rollout` runs it):")
        engine.on_step = lambda decision: decisions.append((time.perf_counter(), decision))
        spare = Engine(ledger, backend, spec, [], poll=0.2)  # runs a release only when nobody does: not here

        def command(name: str) -> float:
            done = control.carry_out(ledger, spare, "production", "api", name, "bench", "benchmark")
            if done.holder is None:
                problems.append(f"{name}: no engine held the release: {done.message()}")
            return time.perf_counter()

        def weight(colour: str) -> int:
            return backend.weights("api").get(colour, 0)

        with LoadGenerator(backend.router_url("api"), keepalive_clients=KEEPALIVE, fresh_clients=FRESH) as load:
            load.open_window()
            outcomes: list[Outcome] = []
            serving = ledger.current("production", "api")
            assert serving is not None
            stable = serving.colour
            candidate = "blue" if stable == "green" else "green"
            thread = in_background(engine, "2.0.0", outcomes)
            until("2.0.0 at 10%", lambda: weight(candidate) == 10)
            asked = command("pause")
            until("pause honoured", lambda: any(t > asked and "paused by" in d.reason for t, d in decisions))
            honoured.append(("pause", min(t for t, d in decisions if t > asked and "paused by" in d.reason) - asked))
            time.sleep(STEP_PAUSE + 2)  # past the step's analysis: unpaused, it would have moved on
            if weight(candidate) != 10:
                problems.append(f"paused at 10%, yet the weight moved to {weight(candidate)}%")
            asked = command("resume")
            until("resume honoured", lambda: any(t > asked and "paused by" not in d.reason for t, d in decisions))
            honoured.append(
                ("resume", min(t for t, d in decisions if t > asked and "paused by" not in d.reason) - asked)
            )
            asked = command("promote-full")
            honoured.append(("promote --full", until("promote --full honoured", lambda: weight(candidate) == 100)))
            thread.join(120)
            if not (outcomes and outcomes[0].succeeded):
                problems.append(f"2.0.0 after pause, resume, promote --full: {outcomes}")
            thread = in_background(engine, "2.1.0", outcomes)
            until("2.1.0 at 10%", lambda: weight(stable) == 10)
            command("abort")
            honoured.append(("abort", until("abort honoured", lambda: weight(stable) == 0)))
            thread.join(120)
            if len(outcomes) != 2 or outcomes[1].succeeded:
                problems.append(f"2.1.0 after an abort: {outcomes[1:]}")
        total = load.total
        print(
            f"  2.0.0 paused at 10%, resumed, promoted --full; 2.1.0 aborted at 10%: {total.requests} requests, "
            f"{total.failures} failed; " + ", ".join(f"{name} honoured in {s:.2f} s" for name, s in honoured)
        )
        if total.failures:
            problems.append(f"operator commands: {total.failures} failed requests (bar: 0) {dict(total.errors)}")
        rounds.append({"requests": total.requests, "failed": total.failures})
    finally:
        backend.shutdown("api")
        ledger.close()


def of(key: str) -> list[float]:
    return [r[key] for r in rounds if key in r]


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
for name in ("pause", "resume", "promote --full", "abort"):
    print(f"{name} honoured after {max(s for n, s in honoured if n == name):.2f} s  (bar: within a pass, 1 s)")
print(f"failed requests: {sum(of('failed')):.0f} of {sum(of('requests')):.0f}  (bar: 0)")
finish(problems)
