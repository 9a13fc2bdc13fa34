"""Where an app's releases stand, from the ledger alone (nothing of the engine, the config or a backend is needed,
so a rollback asks the lock's holder to abort before it builds those): the release in progress, the latest one, the
one an abort applies to."""

from __future__ import annotations

from shipyard.ledger.store import EventKind, Ledger, ReleaseView
from shipyard.release.rollout import Command


def in_progress(ledger: Ledger, environment: str, app: str) -> ReleaseView | None:
    """The app's latest release while it has neither been promoted nor rolled back."""
    for event in ledger.recent_events(environment, app, limit=200):
        if event.kind is EventKind.STARTED:
            kinds = {e.kind for e in ledger.events(event.release_id)}
            ended = kinds & {EventKind.PROMOTED, EventKind.ROLLED_BACK}
            return None if ended else ledger.release(event.release_id)
    return None


def latest(ledger: Ledger, environment: str, app: str) -> ReleaseView | None:
    """The app's latest release, whatever became of it."""
    started = next((e for e in ledger.recent_events(environment, app, limit=200) if e.kind is EventKind.STARTED), None)
    return ledger.release(started.release_id) if started else None


def abortable(ledger: Ledger, environment: str, app: str) -> ReleaseView | None:
    """The release an abort applies to: the one in progress, or the latest one promoted while the colour before it
    is still kept warm (the rollback window; Argo ignored an abort after a full promotion, argo-rollouts#4461)."""
    release = latest(ledger, environment, app)
    if release is None:
        return None
    events = ledger.events(release.id)
    if any(e.kind is EventKind.ROLLED_BACK for e in events):
        return None
    promoted = next((e for e in events if e.kind is EventKind.PROMOTED), None)
    if promoted is None:
        return release
    earlier = [r for r in ledger.stable_stack(environment, app) if r.id != release.id]
    if not earlier:
        return None
    scaled_down = any(e.kind is EventKind.SCALED_DOWN and e.at >= promoted.at for e in ledger.events(earlier[0].id))
    return None if scaled_down else release


def ask_to_abort(ledger: Ledger, environment: str, app: str, actor: str, reason: str, asked: set[int]) -> None:
    """While another holds the app's lock: the release it runs is asked to abort (once; `asked` keeps the ids), and
    its engine honours that within a pass and lets go. The ask names the holder's fencing token: an engine that takes
    the release over later (the holder died) does not act on it; the rollback, holding the lock, rolls it back."""
    holder = ledger.leases.holder(environment, app)
    release = abortable(ledger, environment, app)
    if holder is not None and release is not None and release.id not in asked:
        details = {"command": Command.ABORT.value, "holder": holder.token}
        ledger.record(release.id, EventKind.COMMAND, actor, reason, details=details)
        asked.add(release.id)


def subject_of(ledger: Ledger, environment: str, app: str, command: str) -> ReleaseView | None:
    """The release a command acts on now: what a signed command names, so it cannot be used on another one."""
    if command == "rollback":
        return abortable(ledger, environment, app) or ledger.current(environment, app)
    if command == Command.ABORT:
        return abortable(ledger, environment, app)
    if command == "retry":
        return latest(ledger, environment, app)
    return in_progress(ledger, environment, app)
