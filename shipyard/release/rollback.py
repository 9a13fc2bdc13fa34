"""Emergency rollback: the previous stable release back at 100% in seconds, without running any pipeline.

A release in progress is aborted first (recorded), by its own engine or, when none runs it, here, holding the lock:
the release before it is then the one at 100%, and nothing interleaves with it. Otherwise the release to restore
runs on the idle colour: still warm inside the rollback window (the scale-down delay after the last release), it only
gets the traffic back, without any analysis (Argo's rollbackWindow); cold, it is started, health-checked, and only
then gets the traffic; if it does not get ready, traffic stays where it was and nothing is recorded as restored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.leases import Lease
from shipyard.ledger.store import EventKind, Ledger, ReleaseView
from shipyard.release.backend import Backend, other, serving_colour
from shipyard.release.engine import Engine
from shipyard.release.lock import Hold, holding
from shipyard.release.progress import ask_to_abort, in_progress, latest
from shipyard.release.rollout import Command, Health, RolloutSpec

ABORT_WAIT = 60.0  # how long a rollback waits for the engine it asked to abort to let go of the lock


@dataclass(frozen=True)
class RollbackResult:
    restored: ReleaseView
    replaced: ReleaseView
    colour: str
    seconds: float
    warnings: tuple[str, ...]


def choose_target(
    ledger: Ledger, environment: str, app: str, to_version: str | None
) -> tuple[ReleaseView, ReleaseView]:
    """(current, target) from the ledger, or a clear refusal."""
    stack = ledger.stable_stack(environment, app)
    if not stack:
        raise InputError(f"nothing to roll back: no release of {app} serves in {environment}")
    current, earlier = stack[0], stack[1:]
    if to_version is None:
        if not earlier:
            raise InputError(
                f"nothing to roll back to: {app} {current.version} is the only stable release in {environment}"
            )
        return current, earlier[0]
    for release in earlier:
        if release.version == to_version:
            return current, release
    known = ", ".join(r.version for r in earlier) or "none"
    raise InputError(
        f"{app} {to_version} was never a stable release in {environment} before "
        f"{current.version}; earlier stable releases: {known}"
    )


def emergency_rollback(
    ledger: Ledger,
    backend: Backend,
    environment: str,
    app: str,
    actor: str,
    reason: str,
    to_version: str | None = None,
    ready_timeout: float = 60.0,
    lock_wait: float = ABORT_WAIT,
    asked: set[int] | None = None,
) -> RollbackResult:
    """Holding the app's lock. While another holds it, the release it runs (in progress, or promoted with the old
    colour still warm) is asked to abort, and its engine rolls it back within a pass and lets go; LockHeld says whose
    lock it is when that takes longer than lock_wait. An unfinished release nobody runs any more is rolled back here.
    Either way that rollback is the result, unless to_version names an earlier release. asked: the releases the
    caller already asked to abort (progress.ask_to_abort)."""
    started = time.monotonic()
    why = f"emergency rollback: {reason}"
    asked = set() if asked is None else asked

    def abort_what_it_runs(held: Lease) -> None:
        ask_to_abort(ledger, environment, app, actor, why, asked)

    with holding(ledger, environment, app, actor, why, lock_wait, every=0.1, while_held=abort_what_it_runs) as hold:
        aborted = [ledger.release(r) for r in sorted(asked) if _rolled_back(ledger, r)]
        unfinished = in_progress(ledger, environment, app)
        if unfinished is not None:  # its engine is gone: the release is rolled back here, holding the lock (an ask
            # of the holder before lapsed with it)
            ledger.record(unfinished.id, EventKind.COMMAND, actor, why, details={"command": Command.ABORT.value},
                          fence=hold.lease)  # fmt: skip
            Engine(ledger, backend, RolloutSpec(), [], poll=0.1).finish(unfinished, actor, hold)
            aborted.append(unfinished)
        serving = ledger.current(environment, app)
        if aborted and serving is not None and to_version in (None, serving.version):
            return RollbackResult(serving, aborted[-1], serving.colour, time.monotonic() - started, ())
        return _roll_back(ledger, backend, hold, environment, app, actor, reason, to_version, ready_timeout)


def _rolled_back(ledger: Ledger, release_id: int) -> bool:
    return any(e.kind is EventKind.ROLLED_BACK for e in ledger.events(release_id))


def _roll_back(
    ledger: Ledger, backend: Backend, hold: Hold, environment: str, app: str, actor: str, reason: str,
    to_version: str | None, ready_timeout: float,
) -> RollbackResult:  # fmt: skip
    started = time.monotonic()
    current, target = choose_target(ledger, environment, app, to_version)
    warnings = []
    if target.schema_revision != current.schema_revision:
        warnings.append(
            f"database schema differs: {target.version} was released on revision {target.schema_revision}, "
            f"{current.version} on {current.schema_revision}; migrations are expand-only, so the old code should "
            "run on the new schema, but check it"
        )
    serving = serving_colour(backend, app) or current.colour
    idle = other(serving)
    fast = _warm(ledger, backend, current, target, idle)
    if not fast:
        backend.start(app, idle, target)
        _wait_ready(backend, hold, app, idle, target, ready_timeout)
    hold.renew()  # still ours after the wait: nobody else moved traffic meanwhile
    backend.set_weights(app, {idle: 100, serving: 0})
    details = {"colour": idle, "from": current.version, "warnings": warnings, "warm": fast}
    ledger.record(current.id, EventKind.ROLLED_BACK, actor, reason, weight=0, details=details, fence=hold.lease)
    ledger.record(target.id, EventKind.RESTORED, actor, reason, weight=100, details=details, fence=hold.lease)
    backend.stop(app, serving)
    return RollbackResult(target, current, idle, time.monotonic() - started, tuple(warnings))


def _warm(ledger: Ledger, backend: Backend, current: ReleaseView, target: ReleaseView, idle: str) -> bool:
    """Inside the rollback window: the idle colour still runs the release to restore (it served right before the
    current one, was not scaled down since, and nothing else started there) and answers healthy."""
    if target.colour != idle or not backend.running(target.app, idle):
        return False
    newest = latest(ledger, current.environment, current.app)
    if newest is None or newest.id != current.id:
        return False
    events = ledger.events(target.id)
    served = [i for i, e in enumerate(events) if e.kind in (EventKind.PROMOTED, EventKind.RESTORED)]
    if not served or any(e.kind is EventKind.SCALED_DOWN for e in events[served[-1] :]):
        return False
    return backend.health(target.app, idle) is Health.HEALTHY


def _wait_ready(backend: Backend, hold: Hold, app: str, colour: str, release: ReleaseView, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while backend.health(app, colour) is not Health.HEALTHY:
        hold.renew()  # a slow start must not let the lock run out under it
        if time.monotonic() > deadline:
            backend.stop(app, colour)
            raise ShipyardError(
                f"{app} {release.version} did not get ready on {colour} within {timeout:g}s; "
                "traffic was left where it was"
            )
        time.sleep(0.1)
