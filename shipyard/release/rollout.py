"""The blue-green rollout as a pure decision: decide(observed, spec, now) -> Decision(step, reason).

Level-triggered, like Argo Rollouts' reconcile loop: the engine observes the world (backend + ledger), asks for
the next step, performs it, records it, and asks again. Nothing is remembered between calls, so re-running after a
crash at any point continues from what is actually there. Every path ends with one colour at 100%: the candidate
(promoted) or the stable one (rolled back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Step(StrEnum):
    START_CANDIDATE = "start-candidate"
    START_STABLE = "start-stable"
    WAIT = "wait"
    SMOKE_PREVIEW = "smoke-preview"
    SHIFT = "shift"
    RECORD_WEIGHT = "record-weight"
    SMOKE_FINAL = "smoke-final"
    PROMOTE = "promote"
    SCALE_DOWN_OLD = "scale-down-old"
    ROLL_BACK = "roll-back"
    STOP_CANDIDATE = "stop-candidate"
    DONE = "done"
    FAILED = "failed"


class Health(StrEnum):
    UNKNOWN = "unknown"  # not answered yet
    HEALTHY = "healthy"  # /health and /ready answered 2xx
    UNHEALTHY = "unhealthy"  # answered, and not ready (or process exited)


class Check(StrEnum):
    """Outcome of a one-off check (smoke tests) as recorded in the ledger."""

    NOT_RUN = "not-run"
    PASSED = "passed"
    FAILED = "failed"


def plan_problem(steps: Sequence[int]) -> str:
    """The one rule for a traffic plan (config, an approver's answer, a spec): what is wrong with it, or ''."""
    if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)) or steps[-1] != 100:
        return f"traffic steps {list(steps)} must increase from 1 to 100 and end at 100"
    return ""


@dataclass(frozen=True)
class RolloutSpec:
    """The defaults here are the configuration's (environments.<name>.rollout)."""

    steps: tuple[int, ...] = (10, 50, 100)
    pause: timedelta = timedelta(seconds=30)
    max_error_rate: float = 0.01
    max_p95_ms: float = 500.0
    min_samples: int = 20
    probe_rate: float = 20.0
    health_timeout: timedelta = timedelta(minutes=2)
    scale_down_delay: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        problem = plan_problem(self.steps)
        if problem:
            raise ValueError(problem)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do with traffic: weighted steps, or only all-or-nothing switches."""

    weighted: bool = True


@dataclass(frozen=True)
class Analysis:
    """Requests sampled through the router since the current weight was reached."""

    samples: int
    error_rate: float
    p95_ms: float


class Command(StrEnum):
    """What an operator can ask of a release in progress (`shipyard rollout ...`)."""

    ABORT = "abort"  # roll back now
    PROMOTE = "promote"  # skip the remaining steps once the current analysis passes
    PROMOTE_FULL = "promote-full"  # skip them now, analysis included (recorded as such)
    PAUSE = "pause"  # hold the current weight
    RESUME = "resume"


class Promote(StrEnum):
    AFTER_ANALYSIS = "promote"  # the current step's analysis still has to pass, then straight to 100%
    FULL = "promote-full"  # now, without the rest of the analysis (the ledger says so); the final smoke still runs


@dataclass(frozen=True)
class Observed:
    has_stable: bool  # a previous release serves (False for an app's first release)
    stable_running: bool
    candidate_running: bool
    candidate_started_at: datetime | None  # first start of this release (ledger), so restarts do not reset it
    health: Health
    weight: int  # percent of traffic on the candidate, read back from the router
    weight_since: datetime | None  # when that weight was reached
    analysis: Analysis | None
    preview_smoke: Check = Check.NOT_RUN
    final_smoke: Check = Check.NOT_RUN
    promoted_at: datetime | None = None
    abort_reason: str | None = None  # set by a failed step or an operator's abort; the release must roll back
    alarm: str | None = None  # the platform's monitoring fires (CloudWatch alarm): roll back, as CodeDeploy does
    paused: str | None = None  # an operator's pause ("paused by carol: ..."): hold the weight until resumed
    promote: Promote | None = None  # an operator's promote: skip the remaining steps
    stable_health: Health = Health.UNKNOWN  # the old colour's, looked at only when an abort after promotion needs it


@dataclass(frozen=True)
class Decision:
    step: Step
    reason: str  # for the person watching: what is done now and why
    weight: int | None = None  # target candidate weight for SHIFT and ROLL_BACK
    cause: str = ""  # on the way back: why the release failed, as the ledger records it

    @property
    def terminal(self) -> bool:
        return self.step in (Step.DONE, Step.FAILED)


def plan_steps(spec: RolloutSpec, capabilities: Capabilities, has_stable: bool) -> tuple[tuple[int, ...], str]:
    """The traffic steps this rollout can really take, and why they differ from the spec when they do."""
    steps = spec.steps
    if not has_stable:
        return (100,), "first release of this app: no previous colour to share traffic with"
    if not capabilities.weighted and steps != (100,):
        return (100,), f"backend switches all-or-nothing: steps {_percent(steps)} collapsed to 100%"
    return steps, ""


def decide(o: Observed, spec: RolloutSpec, now: datetime, capabilities: Capabilities = Capabilities()) -> Decision:
    steps, _ = plan_steps(spec, capabilities, o.has_stable)
    if o.promoted_at is not None:  # done, but an abort while the old colour is kept warm still rolls back
        return _after_promotion(o, spec, now)
    reason = o.abort_reason or _abort_reason(o, spec, now)
    if reason:
        return _roll_back(o, reason)
    if not o.candidate_running:
        return Decision(Step.START_CANDIDATE, "candidate colour is not running")
    if o.candidate_started_at is None and o.weight == 0:  # something else left running there (a failed engine's)
        return Decision(Step.START_CANDIDATE, "candidate colour runs something this release never started: replace it")
    if o.health is not Health.HEALTHY:
        return Decision(Step.WAIT, "waiting for /health and /ready on the candidate")
    if o.weight == 0 and o.preview_smoke is Check.NOT_RUN:
        return Decision(Step.SMOKE_PREVIEW, "candidate healthy: smoke tests on its preview address")
    if o.weight > 0 and o.weight_since is None:  # shifted, then crashed before the ledger said when
        return Decision(Step.RECORD_WEIGHT, f"traffic at {o.weight}% with no record of since when: record it now")
    if o.paused:  # failures still roll back (above); nothing moves forward
        return Decision(Step.WAIT, f"{o.paused}: holding {o.weight}% until resumed")
    if o.weight > 0 and o.promote is not Promote.FULL:
        waiting = _still_analysing(o, spec, now)
        if waiting:
            return Decision(Step.WAIT, waiting)
    if o.weight < 100:
        target = 100 if o.promote else next(w for w in steps if w > o.weight)
        if target < 100 and o.has_stable and not o.stable_running:  # e.g. the host restarted since the last release
            return Decision(Step.START_STABLE, f"the stable colour is not running: restart it to take {100 - target}%")
        promoted = f" (promoted by an operator{', analysis skipped' if o.promote is Promote.FULL else ''})"
        return Decision(
            Step.SHIFT, f"shift traffic {o.weight}% -> {target}%{promoted * bool(o.promote)}", weight=target
        )
    if o.final_smoke is Check.NOT_RUN:
        return Decision(Step.SMOKE_FINAL, "candidate at 100%: smoke tests through the router")
    return Decision(Step.PROMOTE, "all steps, analyses and smoke tests passed")


def _abort_reason(o: Observed, spec: RolloutSpec, now: datetime) -> str:
    if o.alarm:
        return o.alarm
    if not o.candidate_running and o.weight > 0:
        return f"candidate stopped while serving {o.weight}% of traffic"
    if o.health is not Health.HEALTHY and o.candidate_started_at is not None:
        waited = now - o.candidate_started_at
        if waited >= spec.health_timeout:
            return f"candidate not ready after {_seconds(waited)} (limit {_seconds(spec.health_timeout)})"
    if o.health is Health.UNHEALTHY and o.weight > 0:
        return f"candidate became unhealthy while serving {o.weight}% of traffic"
    if o.preview_smoke is Check.FAILED:
        return "smoke tests failed on the candidate's preview address"
    if o.final_smoke is Check.FAILED:
        return "smoke tests failed through the router at 100%"
    if o.weight > 0 and o.analysis is not None:
        return _breach(o.analysis, spec, o.weight)
    return ""


def _breach(a: Analysis, spec: RolloutSpec, weight: int) -> str:
    if a.samples < spec.min_samples:  # one unlucky request out of three is not a 33% error rate
        return ""
    if a.error_rate > spec.max_error_rate:
        return f"error rate {a.error_rate:.1%} > {spec.max_error_rate:.1%} at {weight}% ({a.samples} requests)"
    if a.p95_ms > spec.max_p95_ms:
        return f"p95 latency {a.p95_ms:.0f} ms > {spec.max_p95_ms:.0f} ms at {weight}% ({a.samples} requests)"
    return ""


def _still_analysing(o: Observed, spec: RolloutSpec, now: datetime) -> str:
    since = o.weight_since or now
    if now - since < spec.pause:
        return f"analysing {o.weight}%: {_seconds(spec.pause - (now - since))} of the pause left"
    samples = o.analysis.samples if o.analysis else 0
    if samples < spec.min_samples:
        return f"analysing {o.weight}%: {samples} of {spec.min_samples} requests sampled"
    return ""


def _roll_back(o: Observed, cause: str) -> Decision:
    if o.weight > 0 and o.has_stable and not o.stable_running:
        reason = f"restart the stable colour before moving traffic back: {cause}"
        return Decision(Step.START_STABLE, reason, cause=cause)
    if o.weight > 0 and o.has_stable:
        return Decision(Step.ROLL_BACK, f"roll back: {cause}", weight=0, cause=cause)
    if o.candidate_running:
        return Decision(Step.STOP_CANDIDATE, f"stop the candidate: {cause}", cause=cause)
    return Decision(Step.FAILED, f"rolled back: {cause}", cause=cause)


def _after_promotion(o: Observed, spec: RolloutSpec, now: datetime) -> Decision:
    warm = o.has_stable and o.stable_running
    back = o.weight < 100 or (warm and o.stable_health is Health.HEALTHY)  # under way, or the rollback window
    if o.abort_reason and o.has_stable and back:  # traffic back to the old colour, no analysis
        return _roll_back(o, o.abort_reason)
    ignored = f" (abort not honoured: {_cold(o)}; `shipyard rollback` starts it again)" if o.abort_reason else ""
    if not warm:
        return Decision(Step.DONE, f"candidate promoted and serving 100%{ignored}")
    left = spec.scale_down_delay - (now - (o.promoted_at or now))
    if left > timedelta(0):
        return Decision(Step.WAIT, f"old colour kept warm for a fast rollback: {_seconds(left)} left{ignored}")
    return Decision(Step.SCALE_DOWN_OLD, f"scale-down delay over: stop the old colour{ignored}")


def _cold(o: Observed) -> str:
    if not o.has_stable:
        return "no earlier release to go back to"
    return "the old colour is no longer running" if not o.stable_running else "the old colour does not answer healthy"


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f} s"


def _percent(steps: tuple[int, ...]) -> str:
    return " -> ".join(f"{w}%" for w in steps)
