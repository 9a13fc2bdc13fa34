"""The release engine: observe (backend + ledger) -> decide (pure) -> act (backend) -> record (ledger), until done.

Nothing is kept in memory between iterations that the backend or the ledger does not also hold, so killing the
engine at any point and running it again continues the same release to a consistent end.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from shipyard.errors import ShipyardError
from shipyard.ledger.leases import Lease, LeaseLost
from shipyard.ledger.store import EventKind, EventView, Ledger, ReleaseView
from shipyard.release.backend import COLOURS, Backend, RouterError, other, serving_colour
from shipyard.release.lock import LEASE_SECONDS, Hold, holding
from shipyard.release.probe import LoadGenerator
from shipyard.release.progress import latest
from shipyard.release.rollout import (
    Check,
    Command,
    Decision,
    Health,
    Observed,
    Promote,
    RolloutSpec,
    Step,
    decide,
    plan_steps,
)
from shipyard.release.smoke import SmokeCheck, run_smoke

ENGINE = "engine"
T = TypeVar("T")
INFRASTRUCTURE_TRIES = 3  # passes in a row that may fail on the ledger, router or backend before traffic goes back
COMMAND_CHECK = 0.1  # seconds between looks for an operator's command while the engine waits


@dataclass(frozen=True)
class ReleaseRequest:
    environment: str
    app: str
    version: str
    sha: str
    artifact: str
    actor: str
    reason: str = ""
    schema_revision: str | None = None
    artifact_digest: str | None = None  # shipyard.release.artifact.digest_of, taken when the artifact was prepared
    run: str | None = None  # who asks (a flow run): asked again, it resumes or reports its release, never starts one


@dataclass
class Outcome:
    release: ReleaseView
    succeeded: bool
    reason: str


class Engine:
    def __init__(
        self,
        ledger: Ledger,
        backend: Backend,
        spec: RolloutSpec,
        smoke: list[SmokeCheck],
        poll: float = 0.5,
        probe_path: str = "/",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_step: Callable[[Decision], None] = lambda decision: None,
        lock_wait: float = 0.0,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        """lock_wait: how long deploy() waits for the app's lock held by another release or rollback (0: it says who
        holds it and stops). lease_seconds: how long the lock outlives this engine if it dies."""
        self.ledger = ledger
        self.backend = backend
        self.spec = spec
        self.smoke = smoke
        self.poll = poll
        self.probe_path = probe_path
        self.clock = clock
        self.on_step = on_step
        self.lock_wait = lock_wait
        self.lease_seconds = lease_seconds
        self.hold: Hold | None = None
        self._seen: Observed | None = None  # the last pass's view, for a salvage when the ledger is gone
        self._commands_seen = 0  # operators' commands on the release at the last pass

    def deploy(self, request: ReleaseRequest) -> Outcome:
        """Run the release to its end, holding the app's lock; a re-run after a crash resumes the unfinished release
        of the same commit."""
        purpose = f"release {request.version} ({request.sha[:12]})"
        with self._holding(request.environment, request.app, request.actor, purpose):
            return self._deploy(request)

    def finish(self, release: ReleaseView, actor: str, hold: Hold | None = None) -> Outcome:
        """Run a release that exists to its end (an operator's command, a rollback's abort), holding the app's lock
        (`hold`, when the caller has it already); one that ended meanwhile is reported, never started again."""
        if hold is None:
            with self._holding(release.environment, release.app, actor, f"finish release {release.version}"):
                return self._settled(release) or self._run(release)
        self.hold = hold
        try:
            return self._settled(release) or self._run(release)
        finally:
            self.hold = None

    @contextlib.contextmanager
    def _holding(self, environment: str, app: str, actor: str, purpose: str) -> Iterator[None]:
        with holding(self.ledger, environment, app, actor, purpose, self.lock_wait, self.lease_seconds) as hold:
            self.hold = hold
            try:
                yield
            finally:
                self.hold = None

    def _deploy(self, request: ReleaseRequest) -> Outcome:
        interrupted = self._interrupted(request)
        if interrupted is not None:  # its engine died with the lock; this one finishes it first: back to 100%
            why = "interrupted: its engine stopped before the end; rolled back by the next release's engine"
            self._record_once(interrupted, EventKind.COMMAND, why, key="interrupted", details={"command": "abort"})
            self._run(interrupted)
        release = self._resume_or_start(request)
        return self._settled(release) or self._run(release)

    def _settled(self, release: ReleaseView) -> Outcome | None:
        """How a release ended, when it must not run again: rolled back (by its engine, an abort, a rollback), or
        followed by a newer release (run again, it would take that release's colour for its own old one)."""
        events = self.ledger.events(release.id)
        rolled_back = _last(events, EventKind.ROLLED_BACK)
        if rolled_back is not None:
            return Outcome(release, False, rolled_back.reason)
        newest = latest(self.ledger, release.environment, release.app)
        if newest is None or newest.id == release.id:
            return None
        promoted = _last(events, EventKind.PROMOTED) is not None
        return Outcome(release, promoted, f"{'promoted' if promoted else 'ended'}; {newest.version} was released since")

    def _run(self, release: ReleaseView) -> Outcome:
        self._seen = None
        self._steadily(release, lambda: self._note_steps(release))
        url = self.backend.router_url(release.app)
        probe = LoadGenerator(
            url, keepalive_clients=2, fresh_clients=0, path=self.probe_path, rate=self.spec.probe_rate
        )
        with probe:
            while True:
                decision = self._steadily(release, lambda: self._pass(release, probe))
                if decision.terminal:
                    return self._steadily(release, partial(self._finish, release, decision))

    def _steadily(self, release: ReleaseView, step: Callable[[], T]) -> T:
        """step, tried again when the ledger, the router or the backend fails; the last failure in a row puts the
        traffic back on the stable colour and is raised (a lost lease at once: the lock is another's)."""
        for attempt in range(1, INFRASTRUCTURE_TRIES + 1):
            try:
                return step()
            except LeaseLost:
                raise
            except Exception:
                if attempt == INFRASTRUCTURE_TRIES:
                    self._salvage(release)
                    raise
                time.sleep(self.poll * attempt)
        raise AssertionError("unreachable: the last try returns or raises")

    def _note_steps(self, release: ReleaseView) -> None:
        _, note = plan_steps(self.spec, self.backend.capabilities, self._has_stable(release))
        if note:
            self._record_once(release, EventKind.NOTE, note, key="steps")

    def _pass(self, release: ReleaseView, probe: LoadGenerator) -> Decision:
        """One observe-decide-act; returns the decision (a terminal one is not acted on)."""
        self._renew()
        observed = self._seen = self.observe(release, probe)
        decision = decide(observed, self.spec, self.clock(), self.backend.capabilities)
        self.on_step(decision)
        if decision.terminal:
            return decision
        self._renew()  # again right before acting: a holder stopped mid-pass acts on nothing it lost
        try:
            self.act(release, decision, probe)
        except ShipyardError as exc:
            if isinstance(exc, LeaseLost) or observed.abort_reason or observed.promoted_at:
                raise  # a failing way back needs a human (or the next engine)
            self._record_once(release, EventKind.FAILED, f"{decision.step.value} failed: {exc}")
        return decision

    def _salvage(self, release: ReleaseView) -> None:
        """The release cannot go on: all traffic back on the stable colour, whatever the ledger can still record
        (the next engine that takes the lock finishes the record: the release is unfinished there). Only while the
        lock is surely still this engine's: never under another holder's feet."""
        seen = self._seen
        if seen is None or not seen.has_stable or seen.promoted_at is not None:
            return  # nothing seen yet, nothing to go back to, or the release is the stable one (a scale-down failed)
        if not self._still_mine():
            return
        stable = other(release.colour)
        with contextlib.suppress(Exception):  # the error that stopped the release is the one raised
            if self.backend.running(release.app, stable):
                self.backend.set_weights(release.app, {stable: 100, release.colour: 0})

    def _still_mine(self) -> bool:
        if self.hold is None:
            return True
        try:
            self.hold.renew()
        except LeaseLost:
            return False
        except Exception:  # the ledger is down: nobody could have taken a lease that has not run out
            return self.hold.surely_held()
        return True

    def observe(self, release: ReleaseView, probe: LoadGenerator) -> Observed:
        events = self.ledger.events(release.id)
        candidate = release.colour
        weights = self._weights(release.app)
        weight = weights.get(candidate, 0)
        shifts = [e for e in events if e.kind is EventKind.SHIFTED]
        failed = _last(events, EventKind.FAILED)
        promoted = _last(events, EventKind.PROMOTED)
        orders = Orders.of(events, self.hold.lease.token if self.hold else None)
        self._commands_seen = sum(1 for e in events if e.kind is EventKind.COMMAND)
        started = [e for e in events if e.kind is EventKind.NOTE and e.details.get("action") == Step.START_CANDIDATE]
        stable_running = self.backend.running(release.app, other(candidate))
        back = promoted is not None and orders.abort is not None and stable_running  # can it take the traffic back?
        return Observed(
            has_stable=self._has_stable(release),
            stable_running=stable_running,
            candidate_running=self.backend.running(release.app, candidate),
            candidate_started_at=started[0].at if started else None,
            health=self.backend.health(release.app, candidate),
            weight=weight,
            weight_since=shifts[-1].at if shifts and shifts[-1].weight == weight else None,
            analysis=probe.window.analysis() if weight > 0 else None,
            preview_smoke=_smoke(events, "preview"),
            final_smoke=_smoke(events, "final"),
            promoted_at=promoted.at if promoted else None,
            abort_reason=failed.reason if failed else orders.abort,
            alarm=None if promoted or failed else self.backend.alarm(release.app),
            paused=orders.paused,
            promote=orders.promote,
            stable_health=self.backend.health(release.app, other(candidate)) if back else Health.UNKNOWN,
        )

    def act(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        ACTIONS[decision.step](self, release, decision, probe)

    def _wait(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        """Until the next pass, or as soon as an operator's command arrives: an abort is not kept waiting a poll."""
        deadline = time.monotonic() + self.poll
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(COMMAND_CHECK, left))
            if self._commands(release) != self._commands_seen:
                return

    def _start_candidate(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        self.backend.start(release.app, release.colour, release)
        self._write(release.id, EventKind.NOTE, decision.reason, details={"action": decision.step.value})

    def _start_stable(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        previous = self._previous_of(release)
        if previous is not None:
            self.backend.start(release.app, other(release.colour), previous)

    def _run_smoke(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        self._smoke(release, decision.step)

    def _shift(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        if decision.cause:  # rolling back: the failure is recorded before traffic moves
            self._record_once(release, EventKind.FAILED, decision.cause)
        target = decision.weight or 0
        stable = 100 - target if self._has_stable(release) else 0
        self.backend.set_weights(release.app, {release.colour: target, other(release.colour): stable})
        self._write(release.id, EventKind.SHIFTED, decision.reason, weight=target)
        probe.open_window()

    def _record_weight(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        weight = self._weights(release.app).get(release.colour, 0)
        self._write(release.id, EventKind.SHIFTED, decision.reason, weight=weight)
        probe.open_window()

    def _promote(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        self._write(release.id, EventKind.PROMOTED, decision.reason)

    def _scale_down_old(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        self.backend.stop(release.app, other(release.colour))
        previous = self._previous_of(release)
        if previous is not None:
            self._write(previous.id, EventKind.SCALED_DOWN, decision.reason)

    def _stop_candidate(self, release: ReleaseView, decision: Decision, probe: LoadGenerator) -> None:
        self._record_once(release, EventKind.FAILED, decision.cause)
        self.backend.stop(release.app, release.colour)

    def _smoke(self, release: ReleaseView, step: Step) -> None:
        stage = "preview" if step is Step.SMOKE_PREVIEW else "final"
        base = (
            self.backend.preview_url(release.app, release.colour)
            if stage == "preview"
            else self.backend.router_url(release.app)
        )
        failures = run_smoke(base, self.smoke)
        kind = EventKind.SMOKE_FAILED if failures else EventKind.SMOKE_PASSED
        reason = "; ".join(failures) or f"{len(self.smoke)} smoke check(s) passed on {base}"
        self._write(release.id, kind, reason, details={"stage": stage, "url": base})

    def _finish(self, release: ReleaseView, decision: Decision) -> Outcome:
        if decision.step is not Step.DONE:
            self._record_once(release, EventKind.ROLLED_BACK, decision.reason)
        return Outcome(release, decision.step is Step.DONE, decision.reason)

    def _interrupted(self, request: ReleaseRequest) -> ReleaseView | None:
        """Another commit's release that never ended (this engine holds the lock, so nobody runs it any more)."""
        unfinished = self._unfinished(request.environment, request.app, request)
        if unfinished is None or (unfinished.version, unfinished.sha) == (request.version, request.sha):
            return None
        return unfinished

    def _resume_or_start(self, request: ReleaseRequest) -> ReleaseView:
        if request.run is not None and (mine := self.ledger.event_by_key(_start_key(request))) is not None:
            return self.ledger.release(mine.release_id)  # this run's, however it went since
        unfinished = self._unfinished(request.environment, request.app, request)
        if unfinished is not None:
            return unfinished  # the same commit's (another's was finished first)
        current = self.ledger.current(request.environment, request.app)
        serving = serving_colour(self.backend, request.app) or (current.colour if current else None)
        colour = other(serving) if serving else COLOURS[0]  # the router's view wins: a rollback may have moved it
        return self.ledger.start_release(
            request.environment,
            request.app,
            request.version,
            request.sha,
            request.artifact,
            colour,
            request.actor,
            request.schema_revision,
            request.reason,
            request.artifact_digest,
            fence=self._lease(),
            idempotency_key=_start_key(request) if request.run else None,
        )

    def _unfinished(self, environment: str, app: str, request: ReleaseRequest) -> ReleaseView | None:
        """The latest release, when it still has steps to do: not ended, or the same commit promoted but with the
        old colour maybe still up (deploying it again finishes those steps instead of starting it twice)."""
        for event in self.ledger.recent_events(environment, app, limit=200):
            if event.kind is EventKind.STARTED:
                latest = self.ledger.release(event.release_id)
                kinds = {e.kind for e in self.ledger.events(latest.id)}
                if EventKind.ROLLED_BACK in kinds:
                    return None
                same = (latest.version, latest.sha) == (request.version, request.sha)
                return latest if same or EventKind.PROMOTED not in kinds else None
        return None

    def _commands(self, release: ReleaseView) -> int:
        return self.ledger.count_events(release.id, EventKind.COMMAND)

    def _has_stable(self, release: ReleaseView) -> bool:
        return self._previous_of(release) is not None

    def _previous_of(self, release: ReleaseView) -> ReleaseView | None:
        stack = [r for r in self.ledger.stable_stack(release.environment, release.app) if r.id != release.id]
        return stack[0] if stack else None

    def _weights(self, app: str) -> dict[str, int]:
        try:
            return self.backend.weights(app)
        except RouterError:
            return {}  # no router yet: nothing is routed anywhere

    def _record_once(
        self, release: ReleaseView, kind: EventKind, reason: str, key: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        self._write(release.id, kind, reason, details=details, idempotency_key=f"release-{release.id}:{key or kind}")

    def _write(
        self, release_id: int, kind: EventKind, reason: str, weight: int | None = None,
        details: dict[str, object] | None = None, idempotency_key: str | None = None,
    ) -> None:  # fmt: skip
        """Every write of the engine carries its lease: once another holder has the lock, it writes nothing."""
        self.ledger.record(release_id, kind, ENGINE, reason, weight, details, idempotency_key, fence=self._lease())

    def _lease(self) -> Lease | None:
        return self.hold.lease if self.hold else None

    def _renew(self) -> None:
        if self.hold is not None:
            self.hold.renew()


ACTIONS: dict[Step, Callable[[Engine, ReleaseView, Decision, LoadGenerator], None]] = {
    Step.WAIT: Engine._wait,
    Step.START_CANDIDATE: Engine._start_candidate,
    Step.START_STABLE: Engine._start_stable,
    Step.SMOKE_PREVIEW: Engine._run_smoke,
    Step.SMOKE_FINAL: Engine._run_smoke,
    Step.SHIFT: Engine._shift,
    Step.ROLL_BACK: Engine._shift,
    Step.RECORD_WEIGHT: Engine._record_weight,
    Step.PROMOTE: Engine._promote,
    Step.SCALE_DOWN_OLD: Engine._scale_down_old,
    Step.STOP_CANDIDATE: Engine._stop_candidate,
}


@dataclass(frozen=True)
class Orders:
    """What operators asked of a release (COMMAND events), as decide() reads it: an abort stands, the latest of
    pause and resume wins, a promote stands (--full once asked)."""

    abort: str | None = None
    paused: str | None = None
    promote: Promote | None = None

    @classmethod
    def of(cls, events: list[EventView], token: int | None = None) -> Orders:
        """token: the lock's fencing token of the engine reading them; an abort a rollback asked of the holder of
        another token was for an engine that is gone (another runs the release now), and lapses with it."""
        commands = [e for e in events if e.kind is EventKind.COMMAND and _for(e, token)]
        said = {e.details.get("command"): e for e in commands}  # the latest of each
        abort = said.get(Command.ABORT)
        pauses = [e for e in commands if e.details.get("command") in (Command.PAUSE, Command.RESUME)]
        paused = pauses[-1] if pauses and pauses[-1].details.get("command") == Command.PAUSE else None
        full = Command.PROMOTE_FULL in said
        return cls(
            f"aborted by {abort.actor}: {abort.reason}" if abort else None,
            f"paused by {paused.actor}: {paused.reason}" if paused else None,
            Promote.FULL if full else Promote.AFTER_ANALYSIS if Command.PROMOTE in said else None,
        )


def _for(command: EventView, token: int | None) -> bool:
    asked_of = command.details.get("holder")
    return asked_of is None or token is None or asked_of == token


def _start_key(request: ReleaseRequest) -> str:
    return f"start:{request.environment}:{request.app}:{request.run}"


def _last(events: list[EventView], kind: EventKind) -> EventView | None:
    matching = [e for e in events if e.kind is kind]
    return matching[-1] if matching else None


def _smoke(events: list[EventView], stage: str) -> Check:
    results = [
        e
        for e in events
        if e.kind in (EventKind.SMOKE_PASSED, EventKind.SMOKE_FAILED) and e.details.get("stage") == stage
    ]
    if not results:
        return Check.NOT_RUN
    return Check.PASSED if results[-1].kind is EventKind.SMOKE_PASSED else Check.FAILED
