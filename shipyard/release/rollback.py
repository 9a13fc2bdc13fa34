"""Emergency rollback: the previous stable release back at 100% in seconds, without running any pipeline.

The release to restore always starts on the idle colour (the one not taking traffic), is health-checked, and only
then gets the traffic; if it does not get ready, traffic stays where it was and nothing is recorded as restored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.store import EventKind, Ledger, ReleaseView
from shipyard.release.backend import Backend, other, serving_colour
from shipyard.release.lock import Hold, holding
from shipyard.release.rollout import Health


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
    lock_wait: float = 0.0,
) -> RollbackResult:
    """Holding the app's lock (a release in progress holds it: LockHeld says whose, after lock_wait seconds)."""
    with holding(ledger, environment, app, actor, f"emergency rollback: {reason}", lock_wait) as hold:
        return _roll_back(ledger, backend, hold, environment, app, actor, reason, to_version, ready_timeout)


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
    backend.start(app, idle, target)
    _wait_ready(backend, app, idle, target, ready_timeout)
    hold.renew()  # still ours after the wait: nobody else moved traffic meanwhile
    backend.set_weights(app, {idle: 100, serving: 0})
    details = {"colour": idle, "from": current.version, "warnings": warnings}
    ledger.record(current.id, EventKind.ROLLED_BACK, actor, reason, weight=0, details=details, fence=hold.lease)
    ledger.record(target.id, EventKind.RESTORED, actor, reason, weight=100, details=details, fence=hold.lease)
    backend.stop(app, serving)
    return RollbackResult(target, current, idle, time.monotonic() - started, tuple(warnings))


def _wait_ready(backend: Backend, app: str, colour: str, release: ReleaseView, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while backend.health(app, colour) is not Health.HEALTHY:
        if time.monotonic() > deadline:
            backend.stop(app, colour)
            raise ShipyardError(
                f"{app} {release.version} did not get ready on {colour} within {timeout:g}s; "
                "traffic was left where it was"
            )
        time.sleep(0.1)
