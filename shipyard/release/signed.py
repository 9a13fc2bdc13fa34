"""Operator commands and rollbacks signed with an SSH key and verified against the policy's approvers of the
environment, the way approvals are: who gave a command is the key that signed it, never a name typed into a form,
a flow parameter or `--as`.

The signature covers the environment, the app, the command, the release it acts on (progress.subject_of, by its
ledger id), the reason, an earlier release to go back to (rollback), when it was signed and a nonce; the command is
honoured within LIFETIME of that time, once (the ledger keeps the nonce), and only while that release is still the
one it would act on: a signed rollback of 1.3 never rolls back 1.2 after 1.3 is gone.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipyard import signatures
from shipyard.errors import InputError
from shipyard.ledger import Ledger
from shipyard.ledger.store import ReleaseView
from shipyard.policy.model import Policy

NAMESPACE = "shipyard-release-command"
LIFETIME = timedelta(minutes=5)


class CommandRefused(InputError):
    """A signed command that is not honoured: signed by nobody the policy lists, for something else, too old,
    replayed."""


@dataclass(frozen=True)
class SignedCommand:
    """What `shipyard rollout sign` prints and the rollout-command and rollback deployments take."""

    environment: str
    app: str
    command: str  # a rollout command (abort, promote, promote-full, pause, resume, retry, abandon) or "rollback"
    reason: str
    at: str  # ISO 8601 time of signing, with its zone
    nonce: str
    signature: str = ""
    to_version: str | None = None  # rollback: an earlier stable release instead of the previous one
    release: int | None = None  # the ledger id of the release it acts on when signed; None: there was none

    def payload(self) -> bytes:
        return signatures.canonical({k: v for k, v in asdict(self).items() if k != "signature"})


def sign_command(
    environment: str, app: str, command: str, reason: str, key: Path, to_version: str | None = None,
    now: datetime | None = None, release: ReleaseView | None = None,
) -> SignedCommand:  # fmt: skip
    if not reason.strip():
        raise InputError(f"a {command} needs a reason (recorded with who signed it)")
    at = (now or datetime.now(UTC)).isoformat()
    subject = release.id if release else None
    unsigned = SignedCommand(environment, app, command, reason, at, secrets.token_hex(16), "", to_version, subject)
    return replace(unsigned, signature=signatures.sign(unsigned.payload(), NAMESPACE, key))


def signer_of(
    ledger: Ledger, policy: Policy, signed: SignedCommand, environment: str, app: str, command: str,
    now: datetime | None = None, release: ReleaseView | None = None,
) -> str:  # fmt: skip
    """Who signed this command (the approver's name in the policy), once it is checked to be this command, for this
    environment and app and the release it would act on now (`release`), signed within LIFETIME of now by one of
    the environment's approvers, and not used before."""
    for field, wanted in (("environment", environment), ("app", app), ("command", command)):
        if getattr(signed, field) != wanted:
            raise CommandRefused(f"{field}: the signed command says {getattr(signed, field)!r}, not {wanted!r}")
    if not signed.reason.strip():
        raise CommandRefused("reason: a signed command needs one")
    try:
        at = datetime.fromisoformat(signed.at)
    except ValueError:
        raise CommandRefused(f"at: {signed.at!r} is not an ISO 8601 time") from None
    if at.tzinfo is None or abs((now or datetime.now(UTC)) - at) > LIFETIME:
        raise CommandRefused(f"at: the command was signed at {signed.at}; it is honoured within {LIFETIME} of then")
    if signed.release != (release.id if release else None):
        now_on = f"release #{release.id} ({app} {release.version})" if release else "no release"
        raise CommandRefused(
            f"release: the {command} was signed for release #{signed.release}; it would act on {now_on} now: sign "
            "it again for what is there"
        )
    signers = policy.signers(policy.environment(environment).approvers)
    try:
        principal = signatures.verify(signed.payload(), signed.signature, NAMESPACE, signers)
    except signatures.SignatureRefused as exc:
        raise CommandRefused(f"signature refused: {exc} (the signers are {environment}'s approvers)") from None
    ledger.spend_nonce(signed.nonce, principal, f"{command} {app} in {environment}")
    return principal
