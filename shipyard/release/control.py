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
from shipyard.release.progress import abortable, in_progress, latest
from shipyard.release.rollout import Command

RUNS_THE_ENGINE = (Command.ABORT, Command.PROMOTE, Command.PROMOTE_FULL, Command.RESUME)
RETRY, ABANDON = "retry", "abandon"
COMMANDS = (*(c.value for c in Command), RETRY, ABANDON)


@dataclass(frozen=True)
class Ordered:
    release: ReleaseView
    command: Command
    holder: Lease | None  # the engine honouring it; None: nobody held the lock, this command ran the release


@dataclass(frozen=True)
class Done:
    """What an operator's command did, for the one who gave it."""

    release: ReleaseView
    command: str
    holder: Lease | None  # the engine that honours it; None: nobody held the lock
    outcome: Outcome | None  # set when this command ran the release (or a retry) to its end

    def message(self) -> str:
        name = f"{self.release.app} {self.release.version}"
        if self.command in (RETRY, ABANDON) and self.outcome is not None:
            word = "released again" if self.outcome.succeeded else "rolled back"
            return f"{self.command}: {name} {word}: {self.outcome.reason}"
        if self.holder is not None:
            return f"{self.command} recorded for {name}; its engine ({self.holder.holder}) honours it within a second"
        if self.outcome is None:
            return f"{self.command} recorded for {name}; no engine runs it now"
        word = "promoted" if self.outcome.succeeded else "rolled back"
        return f"{name}: no engine ran it, so this command did: {word}: {self.outcome.reason}"


def carry_out(ledger: Ledger, engine: Engine, environment: str, app: str, command: str, actor: str,
              reason: str) -> Done:  # fmt: skip
    """One operator command on the app's release: recorded, and honoured by its engine or run here."""
    if command == RETRY:
        outcome = retry(ledger, engine, environment, app, actor, reason)
        return Done(outcome.release, command, None, outcome)
    if command == ABANDON:
        outcome = abandon(ledger, engine, environment, app, actor, reason)
        return Done(outcome.release, command, None, outcome)
    if command not in COMMANDS:
        raise InputError(f"command: {command!r} is not one of {', '.join(COMMANDS)}")
    ordered = Command(command)
    release = abortable(ledger, environment, app) if ordered is Command.ABORT else in_progress(ledger, environment, app)
    if release is None:
        raise InputError(f"no release of {app} is in progress in {environment}: nothing to {command}")
    done, ran = order(ledger, engine, release, ordered, actor, reason)
    return Done(release, command, done.holder, ran)


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
