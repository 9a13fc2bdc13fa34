"""Table tests of every transition of the rollout decision, and crash-and-resume simulations."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from shipyard.release.rollout import (
    Analysis,
    Capabilities,
    Check,
    Decision,
    Health,
    Observed,
    Promote,
    RolloutSpec,
    Step,
    decide,
    plan_problem,
    plan_steps,
)

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
SPEC = RolloutSpec()
GOOD = Analysis(samples=100, error_rate=0.0, p95_ms=40)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


BASE = Observed(
    has_stable=True,
    stable_running=True,
    candidate_running=True,
    candidate_started_at=T0,
    health=Health.HEALTHY,
    weight=0,
    weight_since=None,
    analysis=None,
)
AT_100 = replace(BASE, preview_smoke=Check.PASSED, weight=100, weight_since=at(10), analysis=GOOD)


@pytest.mark.parametrize(
    ("name", "observed", "now", "step", "reason", "weight"),
    [
        (
            "nothing started",
            replace(BASE, candidate_running=False, candidate_started_at=None, health=Health.UNKNOWN),
            at(0),
            Step.START_CANDIDATE,
            "not running",
            None,
        ),
        (
            "a colour left running that this release never started (a failed engine's) is replaced, not adopted",
            replace(BASE, candidate_started_at=None),
            at(0),
            Step.START_CANDIDATE,
            "never started",
            None,
        ),
        ("starting", replace(BASE, health=Health.UNKNOWN), at(5), Step.WAIT, "/ready", None),
        ("not ready but within limit", replace(BASE, health=Health.UNHEALTHY), at(119), Step.WAIT, "/ready", None),
        (
            "never ready",
            replace(BASE, health=Health.UNHEALTHY),
            at(120),
            Step.STOP_CANDIDATE,
            "not ready after 120 s (limit 120 s)",
            None,
        ),
        ("healthy, no smoke yet", BASE, at(10), Step.SMOKE_PREVIEW, "preview", None),
        (
            "preview smoke failed",
            replace(BASE, preview_smoke=Check.FAILED),
            at(10),
            Step.STOP_CANDIDATE,
            "smoke tests failed on the candidate's preview",
            None,
        ),
        ("preview smoke passed", replace(BASE, preview_smoke=Check.PASSED), at(10), Step.SHIFT, "0% -> 10%", 10),
        (
            "pausing at 10",
            replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=GOOD),
            at(20),
            Step.WAIT,
            "20 s of the pause left",
            None,
        ),
        (
            "too few samples",
            replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=Analysis(5, 0.0, 10)),
            at(60),
            Step.WAIT,
            "5 of 20 requests",
            None,
        ),
        (
            "10 analysed",
            replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=GOOD),
            at(40),
            Step.SHIFT,
            "10% -> 50%",
            50,
        ),
        (
            "errors at 10",
            replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=Analysis(40, 0.25, 30)),
            at(15),
            Step.ROLL_BACK,
            "error rate 25.0% > 1.0% at 10% (40 requests)",
            0,
        ),
        (
            "slow at 50",
            replace(BASE, preview_smoke=Check.PASSED, weight=50, weight_since=at(10), analysis=Analysis(40, 0.0, 900)),
            at(45),
            Step.ROLL_BACK,
            "p95 latency 900 ms",
            0,
        ),
        (
            "unhealthy at 50",
            replace(BASE, preview_smoke=Check.PASSED, weight=50, weight_since=at(10), health=Health.UNHEALTHY),
            at(15),
            Step.ROLL_BACK,
            "became unhealthy",
            0,
        ),
        (
            "candidate died at 50",
            replace(BASE, preview_smoke=Check.PASSED, weight=50, candidate_running=False),
            at(15),
            Step.ROLL_BACK,
            "candidate stopped while serving 50%",
            0,
        ),
        (
            "stable died too",
            replace(BASE, preview_smoke=Check.PASSED, weight=50, stable_running=False, analysis=Analysis(40, 0.5, 10)),
            at(15),
            Step.START_STABLE,
            "restart the stable colour",
            None,
        ),
        (
            "100 analysed",
            AT_100,
            at(40),
            Step.SMOKE_FINAL,
            "through the router",
            None,
        ),
        (
            "final smoke failed",
            replace(AT_100, final_smoke=Check.FAILED),
            at(40),
            Step.ROLL_BACK,
            "smoke tests failed through the router",
            0,
        ),
        (
            "ready to promote",
            replace(AT_100, final_smoke=Check.PASSED),
            at(40),
            Step.PROMOTE,
            "passed",
            None,
        ),
        ("old colour kept", replace(BASE, weight=100, promoted_at=at(40)), at(50), Step.WAIT, "20 s left", None),
        (
            "old colour scaled down",
            replace(BASE, weight=100, promoted_at=at(40)),
            at(70),
            Step.SCALE_DOWN_OLD,
            "stop the old colour",
            None,
        ),
        (
            "done",
            replace(BASE, weight=100, promoted_at=at(40), stable_running=False),
            at(80),
            Step.DONE,
            "promoted",
            None,
        ),
        (
            "operator abort at 50",
            replace(BASE, weight=50, abort_reason="aborted by dana: wrong build"),
            at(20),
            Step.ROLL_BACK,
            "aborted by dana",
            0,
        ),
        (
            "stable colour gone (host restarted): restart it before sharing traffic with it",
            replace(BASE, weight=0, preview_smoke=Check.PASSED, stable_running=False),
            at(5),
            Step.START_STABLE,
            "the stable colour is not running: restart it to take 90%",
            None,
        ),
        (
            "stable colour gone, but the next step is 100%: nothing to share",
            replace(BASE, weight=50, weight_since=at(0), analysis=GOOD, stable_running=False),
            at(40),
            Step.SHIFT,
            "shift traffic 50% -> 100%",
            100,
        ),
        (
            "CloudWatch alarm at 10 rolls back even with good analysis",
            replace(BASE, weight=10, weight_since=at(0), alarm="CloudWatch alarm api-5xx in ALARM: threshold"),
            at(5),
            Step.ROLL_BACK,
            "roll back: CloudWatch alarm api-5xx",
            0,
        ),
        (
            "alarm before any traffic stops the candidate",
            replace(BASE, weight=0, alarm="CloudWatch alarm api-5xx in ALARM"),
            at(5),
            Step.STOP_CANDIDATE,
            "stop the candidate: CloudWatch alarm",
            None,
        ),
        (
            "alarm after promotion is not this machine's",
            replace(BASE, weight=100, promoted_at=at(40), stable_running=False, alarm="CloudWatch alarm x"),
            at(90),
            Step.DONE,
            "promoted",
            None,
        ),
        (
            "rolled back, candidate still up",
            replace(BASE, weight=0, abort_reason="x"),
            at(20),
            Step.STOP_CANDIDATE,
            "stop the candidate",
            None,
        ),
        (
            "rolled back",
            replace(BASE, weight=0, candidate_running=False, abort_reason="x"),
            at(20),
            Step.FAILED,
            "rolled back: x",
            None,
        ),
    ],
)
def test_decide(name: str, observed: Observed, now: datetime, step: Step, reason: str, weight: int | None) -> None:
    decision = decide(observed, SPEC, now)
    assert decision.step is step, (name, decision)
    assert reason in decision.reason, (name, decision)
    assert decision.weight == weight, (name, decision)


WAY_BACK = (Step.ROLL_BACK, Step.STOP_CANDIDATE, Step.FAILED)


@pytest.mark.parametrize(
    ("name", "observed"),
    [
        ("breach at 10%", replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(0),
                                  analysis=Analysis(samples=100, error_rate=0.2, p95_ms=40))),
        ("failed preview smoke, candidate up", replace(BASE, preview_smoke=Check.FAILED)),
        ("failed preview smoke, candidate gone", replace(BASE, preview_smoke=Check.FAILED, candidate_running=False)),
        ("aborted by a failed step", replace(BASE, abort_reason="shift failed: router down", weight=50,
                                             weight_since=at(0))),
    ],
)  # fmt: skip
def test_the_way_back_carries_the_cause_as_data_and_the_reason_for_people(name: str, observed: Observed) -> None:
    decision = decide(observed, SPEC, at(60))
    assert decision.step in WAY_BACK, (name, decision)
    assert decision.cause and decision.cause in decision.reason, (name, decision)
    assert not decision.cause.startswith(("roll back", "stop the candidate", "rolled back")), (name, decision)


def test_on_the_way_forward_there_is_no_cause() -> None:
    assert decide(replace(BASE, health=Health.UNKNOWN), SPEC, at(5)).cause == ""


def test_decide_is_idempotent() -> None:
    observed = replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=GOOD)
    assert decide(observed, SPEC, at(40)) == decide(observed, SPEC, at(40))


@pytest.mark.parametrize(
    ("steps", "capabilities", "has_stable", "planned", "note"),
    [
        ((10, 50, 100), Capabilities(weighted=True), True, (10, 50, 100), ""),
        ((100,), Capabilities(weighted=True), True, (100,), ""),
        ((10, 50, 100), Capabilities(weighted=False), True, (100,), "all-or-nothing: steps 10% -> 50% -> 100%"),
        ((10, 50, 100), Capabilities(weighted=True), False, (100,), "first release"),
    ],
)
def test_plan_steps(
    steps: tuple[int, ...], capabilities: Capabilities, has_stable: bool, planned: tuple[int, ...], note: str
) -> None:
    got, why = plan_steps(RolloutSpec(steps=steps), capabilities, has_stable)
    assert got == planned and note in why


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ((10, 50, 100), ""),
        ((100,), ""),
        ((1, 2, 3, 100), ""),
        ((10, 50), "traffic steps [10, 50] must increase from 1 to 100 and end at 100"),
        ((50, 10, 100), "traffic steps [50, 10, 100] must increase"),
        ((10, 10, 100), "must increase"),
        ((0, 50, 100), "must increase from 1 to 100"),
        ((50, 200), "must increase from 1 to 100"),
        ((), "traffic steps [] must increase"),
    ],
)
def test_one_rule_for_every_traffic_plan(steps: tuple[int, ...], problem: str) -> None:
    """The same rule judges the config's plan, an approver's plan and a spec built in code."""
    assert (problem in plan_problem(steps)) and (bool(plan_problem(steps)) == bool(problem))
    if problem:
        with pytest.raises(ValueError, match=re.escape(plan_problem(steps))):
            RolloutSpec(steps=steps)
    else:
        assert RolloutSpec(steps=steps).steps == steps


def test_the_configurations_defaults_are_the_specs() -> None:
    from shipyard.config.environments import Rollout

    assert Rollout().spec() == RolloutSpec()


AT_10 = replace(BASE, preview_smoke=Check.PASSED, weight=10, weight_since=at(10), analysis=GOOD)
BREACH = Analysis(samples=100, error_rate=0.2, p95_ms=40)
PAUSED = "paused by carol: watching the dashboards"
ABORTED = "aborted by carol: wrong config"


@pytest.mark.parametrize(
    ("name", "observed", "now", "step", "reason", "weight"),
    [
        ("pause during analysis holds the weight", replace(AT_10, paused=PAUSED), at(20), Step.WAIT,
         f"{PAUSED}: holding 10% until resumed", None),
        ("pause after the analysis passed still holds", replace(AT_10, paused=PAUSED), at(60), Step.WAIT,
         f"{PAUSED}: holding 10% until resumed", None),
        ("a paused rollout still rolls back on a breach", replace(AT_10, paused=PAUSED, analysis=BREACH), at(20),
         Step.ROLL_BACK, "roll back: error rate 20.0% > 1.0% at 10%", 0),
        ("a paused rollout still rolls back when aborted (rollback while paused)",
         replace(AT_10, paused=PAUSED, abort_reason=ABORTED), at(20), Step.ROLL_BACK, f"roll back: {ABORTED}", 0),
        ("resumed: on to the next step", AT_10, at(60), Step.SHIFT, "shift traffic 10% -> 50%", 50),
        ("promote waits for the current analysis", replace(AT_10, promote=Promote.AFTER_ANALYSIS), at(20),
         Step.WAIT, "analysing 10%: 20 s of the pause left", None),
        ("promote after the analysis skips the remaining steps", replace(AT_10, promote=Promote.AFTER_ANALYSIS),
         at(60), Step.SHIFT, "shift traffic 10% -> 100% (promoted by an operator)", 100),
        ("promote --full skips the analysis too", replace(AT_10, promote=Promote.FULL), at(20), Step.SHIFT,
         "shift traffic 10% -> 100% (promoted by an operator, analysis skipped)", 100),
        ("promote before any traffic: after the preview smoke, straight to 100%",
         replace(BASE, preview_smoke=Check.PASSED, promote=Promote.AFTER_ANALYSIS), at(10), Step.SHIFT,
         "shift traffic 0% -> 100% (promoted by an operator)", 100),
        ("promote --full still runs the final smoke",
         replace(AT_100, promote=Promote.FULL, analysis=None), at(11), Step.SMOKE_FINAL, "smoke tests", None),
        ("abort after promote --full, before the promotion: rolled back (argo-rollouts#4461)",
         replace(AT_100, promote=Promote.FULL, abort_reason=ABORTED), at(11), Step.ROLL_BACK,
         f"roll back: {ABORTED}", 0),
        ("abort before any traffic stops the candidate", replace(BASE, abort_reason=ABORTED), at(5),
         Step.STOP_CANDIDATE, f"stop the candidate: {ABORTED}", None),
        ("abort inside the rollback window: traffic back to the warm colour, no analysis",
         replace(AT_100, promoted_at=at(30), abort_reason=ABORTED, stable_health=Health.HEALTHY), at(31),
         Step.ROLL_BACK, f"roll back: {ABORTED}", 0),
        ("abort inside the window while the old colour does not answer healthy: not onto it; the window runs on",
         replace(AT_100, promoted_at=at(30), abort_reason=ABORTED, stable_health=Health.UNHEALTHY), at(31),
         Step.WAIT, "abort not honoured: the old colour does not answer healthy", None),
        ("abort after the old colour was scaled down: not honoured, never onto a colour started cold",
         replace(AT_100, promoted_at=at(30), stable_running=False, abort_reason=ABORTED), at(90), Step.DONE,
         "abort not honoured: the old colour is no longer running; `shipyard rollback`", None),
        ("abort once the window is over, the old colour not stopped yet: the scale-down goes on",
         replace(AT_100, promoted_at=at(30), abort_reason=ABORTED, stable_health=Health.UNKNOWN), at(90),
         Step.SCALE_DOWN_OLD, "abort not honoured", None),
        ("an aborted promotion with traffic back: stop the candidate",
         replace(AT_100, promoted_at=at(30), weight=0, abort_reason=ABORTED), at(32), Step.STOP_CANDIDATE,
         f"stop the candidate: {ABORTED}", None),
        ("a pause does not hold a rollback that is under way", replace(AT_10, paused=PAUSED, weight=0,
         abort_reason=ABORTED), at(20), Step.STOP_CANDIDATE, f"stop the candidate: {ABORTED}", None),
    ],
)  # fmt: skip
def test_decide_with_operator_commands(
    name: str, observed: Observed, now: datetime, step: Step, reason: str, weight: int | None
) -> None:
    decision = decide(observed, SPEC, now)
    assert (decision.step, decision.weight) == (step, weight), name
    assert reason in decision.reason, (name, decision.reason)


def test_all_or_nothing_backend_switches_straight_to_100() -> None:
    observed = replace(BASE, preview_smoke=Check.PASSED)
    assert decide(observed, SPEC, at(10), Capabilities(weighted=False)).weight == 100


# --- simulation: a fake world that applies decisions; the engine may "crash" after any action ---------------------


@dataclass
class World:
    o: Observed
    now: datetime
    ready_after: float | None = 5.0  # seconds after start; None: never ready
    error_rate_from: int | None = None  # candidate weight at which it starts failing requests
    smoke_ok: bool = True
    lose_records: bool = False  # crash after the action, before its ledger record

    def observe(self) -> Observed:
        o = self.o
        if o.candidate_running and o.health is not Health.HEALTHY and o.candidate_started_at is not None:
            ready = self.ready_after is not None and self.now - o.candidate_started_at >= timedelta(
                seconds=self.ready_after
            )
            o = replace(o, health=Health.HEALTHY if ready else Health.UNHEALTHY)
        if o.weight > 0 and o.weight_since is not None:
            samples = int((self.now - o.weight_since).total_seconds() * 4)
            failing = self.error_rate_from is not None and o.weight >= self.error_rate_from
            o = replace(o, analysis=Analysis(samples, 0.3 if failing and samples else 0.0, 30.0))
        self.o = o
        return o

    def apply(self, d: Decision) -> None:
        o, keep = self.o, not self.lose_records
        if d.step is Step.START_CANDIDATE:
            o = replace(
                o,
                candidate_running=True,
                health=Health.UNKNOWN,
                candidate_started_at=o.candidate_started_at or self.now,
            )
        elif d.step is Step.START_STABLE:
            o = replace(o, stable_running=True)
        elif d.step is Step.SMOKE_PREVIEW and keep:
            o = replace(o, preview_smoke=Check.PASSED if self.smoke_ok else Check.FAILED)
        elif d.step is Step.SHIFT:
            assert d.weight is not None
            o = replace(o, weight=d.weight, weight_since=self.now if keep else None, analysis=None)
        elif d.step is Step.RECORD_WEIGHT and keep:
            o = replace(o, weight_since=self.now)
        elif d.step is Step.SMOKE_FINAL and keep:
            o = replace(o, final_smoke=Check.PASSED)
        elif d.step is Step.PROMOTE:
            o = replace(o, promoted_at=self.now)  # the promotion is the ledger record itself
        elif d.step is Step.SCALE_DOWN_OLD:
            o = replace(o, stable_running=False)
        elif d.step is Step.ROLL_BACK:
            o = replace(o, weight=0, abort_reason=o.abort_reason or d.reason.removeprefix("roll back: "))
        elif d.step is Step.STOP_CANDIDATE:
            o = replace(o, candidate_running=False, abort_reason=o.abort_reason or d.reason)
        self.o = o
        self.now += timedelta(seconds=5)


def run(world: World, crash_every: int = 0, limit: int = 500) -> tuple[Decision, list[Step]]:
    taken: list[Step] = []
    for i in range(limit):
        if crash_every and i % crash_every == crash_every - 1:
            world.lose_records = True  # this action lands, its record does not, and the engine restarts
        decision = decide(world.observe(), SPEC, world.now)
        taken.append(decision.step)
        assert world.o.stable_running or world.o.candidate_running, "both colours stopped"
        if decision.terminal:
            return decision, taken
        world.apply(decision)
        world.lose_records = False
    raise AssertionError(f"no end after {limit} steps: {taken[-10:]}")


def fresh(**kwargs: object) -> World:
    start = replace(BASE, candidate_running=False, candidate_started_at=None, health=Health.UNKNOWN)
    return World(start, T0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("crash_every", [0, 2, 3, 5, 7])  # every 2nd action loses its ledger record, ...
def test_good_release_ends_promoted_at_100_whatever_crashes(crash_every: int) -> None:
    world = fresh()
    final, taken = run(world, crash_every)
    assert final.step is Step.DONE
    assert world.o.weight == 100 and world.o.candidate_running and not world.o.stable_running
    assert taken.count(Step.SHIFT) >= 3 and Step.ROLL_BACK not in taken


@pytest.mark.parametrize("crash_every", [0, 2, 3])
def test_release_failing_at_10_percent_is_rolled_back(crash_every: int) -> None:
    world = fresh(error_rate_from=10)
    final, taken = run(world, crash_every)
    assert final.step is Step.FAILED and "error rate" in final.reason
    assert world.o.weight == 0 and world.o.stable_running and not world.o.candidate_running
    assert taken.count(Step.SHIFT) == 1  # 0% -> 10%, never further


@pytest.mark.parametrize("crash_every", [0, 2, 3])
def test_release_never_ready_gets_no_traffic_and_is_stopped(crash_every: int) -> None:
    world = fresh(ready_after=None)
    final, taken = run(world, crash_every)
    assert final.step is Step.FAILED and "not ready after" in final.reason
    assert Step.SHIFT not in taken and world.o.weight == 0 and world.o.stable_running


def test_failed_preview_smoke_gets_no_traffic() -> None:
    world = fresh(smoke_ok=False)
    final, taken = run(world)
    assert final.step is Step.FAILED and "smoke" in final.reason and Step.SHIFT not in taken
