"""Operators' control of a release in progress (`shipyard rollout ...`): abort, promote, pause, resume, retry,
abandon. Each is a ledger event with who and why; a running engine honours it on its next pass (it re-reads the
release's events every pass), and when no engine runs the release (its holder died), the command runs one itself,
holding the app's lock, so the release ends at 100% on one colour either way."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.errors import InputError
from shipyard.ledger.leases import Lease, LockHeld
from shipyard.ledger.store import EventKind, Ledger, ReleaseView
from shipyard.release.engine import Engine, Outcome, ReleaseRequest
from shipyard.release.rollout import Command

RUNS_THE_ENGINE = (Command.ABORT, Command.PROMOTE, Command.PROMOTE_FULL, Command.RESUME)


@dataclass(frozen=True)
class Ordered:
    release: ReleaseView
    command: Command
    holder: Lease | None  # the engine honouring it; None: nobody held the lock, this command ran the release


def in_progress(ledger: Ledger, environment: str, app: str) -> ReleaseView | None:
    """The app's latest release while it has neither been promoted nor rolled back."""
    for event in ledger.recent_events(environment, app, limit=200):
        if event.kind is EventKind.STARTED:
            kinds = {e.kind for e in ledger.events(event.release_id)}
            ended = kinds & {EventKind.PROMOTED, EventKind.ROLLED_BACK}
            return None if ended else ledger.release(event.release_id)
    return None


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


def latest(ledger: Ledger, environment: str, app: str) -> ReleaseView | None:
    """The app's latest release, whatever became of it."""
    started = next((e for e in ledger.recent_events(environment, app, limit=200) if e.kind is EventKind.STARTED), None)
    return ledger.release(started.release_id) if started else None


def order(
    ledger: Ledger, engine: Engine, release: ReleaseView | None, command: Command, actor: str, reason: str
) -> tuple[Ordered, Outcome | None]:
    """Record the command on the release; run the engine for it when none does."""
    if release is None:
        raise InputError(f"no release is in progress: nothing to {command.value}")
    if not reason.strip():
        raise InputError(f"a {command.value} needs a reason (recorded with who gave it)")
    ledger.record(release.id, EventKind.COMMAND, actor, reason, details={"command": command.value})
    holder = ledger.leases.holder(release.environment, release.app)
    if holder is not None or command not in RUNS_THE_ENGINE:
        return Ordered(release, command, holder), None
    try:
        return Ordered(release, command, None), engine.finish(release, actor)
    except LockHeld as held:  # its engine came back meanwhile: it reads the command on its next pass
        return Ordered(release, command, held.held), None


def abandon(ledger: Ledger, engine: Engine, environment: str, app: str, actor: str, reason: str) -> Outcome:
    """Close a release whose engine is gone (a crashed run, a killed command): back to the previous release at 100%
    (or the candidate stopped when it never took traffic), without deploying anything again."""
    holder = ledger.leases.holder(environment, app)
    if holder is not None:
        raise InputError(f"{app} in {environment} is being released by {holder.holder}: abort it instead")
    release = in_progress(ledger, environment, app)
    _, outcome = order(ledger, engine, release, Command.ABORT, actor, f"abandoned: {reason}")
    assert outcome is not None, "nobody held the lock: the command ran the release to its end"
    return outcome


def retry(ledger: Ledger, engine: Engine, environment: str, app: str, actor: str, reason: str) -> Outcome:
    """The latest release again, as a new release of the same artifact, when it was rolled back."""
    release = latest(ledger, environment, app)
    if release is None:
        raise InputError(f"no release of {app} in {environment} to retry")
    if EventKind.ROLLED_BACK not in {e.kind for e in ledger.events(release.id)}:
        raise InputError(f"{app} {release.version} in {environment} did not fail: nothing to retry")
    return engine.deploy(request_of(release, actor, f"retry: {reason}"))


def request_of(release: ReleaseView, actor: str, reason: str = "") -> ReleaseRequest:
    return ReleaseRequest(
        release.environment, release.app, release.version, release.sha, release.artifact, actor, reason,
        release.schema_revision, release.artifact_digest,
    )  # fmt: skip
