"""One-time codes for the Prefect UI's approval form. The UI has no logins, so a name typed there proves nothing; an
approver asks for a code with a request signed by their SSH key that states their answer (decision, reason, ticket,
plan), the Shipyard side that holds the policy checks the signature and that they may approve this run, and answers
with a code bound to (run, approver, that answer) that expires and works once. The ledger stores only its hash: a
code read from a submitted form cannot carry another answer (an API user can rewrite the form before the run
reads it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipyard import signatures
from shipyard.digests import code_hash
from shipyard.errors import InputError
from shipyard.ledger.store import WAITING, Ledger
from shipyard.policy.model import Policy

REQUEST_LIFETIME = timedelta(minutes=5)  # a signed request older (or further ahead) than this is refused: no replay
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed without confusion


class CodeRefused(InputError):
    """The request does not earn a code: says why (the relay answers 403 or 404 with it)."""


@dataclass(frozen=True)
class Issued:
    approver: str
    code: str
    expires_at: datetime


def answer_of(decision: str, reason: str, ticket: str | None, steps: list[int] | None) -> dict[str, object]:
    """The answer a code is bound to, as the form gives it back: blank ticket and empty plan are none."""
    return {"decision": decision, "reason": reason.strip(), "ticket": (ticket or "").strip() or None,
            "steps": list(steps) if steps else None}  # fmt: skip


def request_payload(run_id: str, at: str, nonce: str, answer: dict[str, object]) -> dict[str, object]:
    """What a code request signs: the run, the answer, when, and a nonce the ledger accepts once."""
    return {"run": run_id, "answer": answer, "at": at, "nonce": nonce}


def new_request(run_id: str, answer: dict[str, object], now: datetime | None = None) -> dict[str, object]:
    return request_payload(run_id, (now or datetime.now(UTC)).isoformat(), secrets.token_hex(16), answer)


def issue(ledger: Ledger, policy: Policy, body: dict[str, Any], now: datetime | None = None) -> Issued:
    """body: the request's payload fields and its "signature". Raises CodeRefused (or InputError for a malformed
    body or a replayed nonce)."""
    now = now or datetime.now(UTC)
    run_id, at, nonce, signature = (_text(body, field) for field in ("run", "at", "nonce", "signature"))
    answer = _answer(body.get("answer"))
    try:
        signed_at = datetime.fromisoformat(at)
    except ValueError:
        raise InputError(f"at: {at!r} is not an ISO 8601 time") from None
    if signed_at.tzinfo is None or abs(now - signed_at) > REQUEST_LIFETIME:
        raise CodeRefused(f"the request was signed at {at}; it must be signed within {REQUEST_LIFETIME} of now")
    requested = ledger.decision(f"{run_id}:requested")
    if requested is None:
        raise CodeRefused(f"flow run {run_id} has not asked for an approval")
    if any(d.kind not in WAITING for d in ledger.decisions(requested.environment, run_id)):
        raise CodeRefused(f"flow run {run_id} is not waiting for an approval any more")
    rules = policy.environment(requested.environment)
    signers = policy.signers(rules.approvers)
    payload = signatures.canonical(request_payload(run_id, at, nonce, answer))
    try:
        approver = signatures.verify(payload, signature, signatures.CODE_NAMESPACE, signers)
    except signatures.SignatureRefused as exc:
        raise CodeRefused(f"signature refused: {exc}") from None
    code = "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(3))
    expires_at = now + timedelta(minutes=rules.approval_code_minutes)
    ledger.issue_code(run_id, approver, digest(code, answer), nonce, expires_at)
    return Issued(approver, code, expires_at)


def digest(code: str, answer: dict[str, object]) -> str:
    """The hash the ledger keeps of a code with the answer it is for; the code as typed: case, spaces and dashes do
    not matter."""
    typed = "".join(c for c in code.upper() if c.isalnum())
    return code_hash(typed + "\n" + signatures.canonical(answer).decode())


def _answer(value: Any) -> dict[str, object]:
    if not isinstance(value, dict) or value.get("decision") not in ("approve", "reject"):
        raise InputError("answer: expected {decision: approve|reject, reason, ticket, steps}")
    reason, ticket, steps = value.get("reason"), value.get("ticket"), value.get("steps")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("answer.reason: a decision needs one")
    if ticket is not None and not isinstance(ticket, str):
        raise InputError("answer.ticket: expected text")
    if steps is not None and not (isinstance(steps, list) and all(isinstance(p, int) for p in steps)):
        raise InputError("answer.steps: expected a list of percentages")
    return answer_of(str(value["decision"]), reason, ticket, steps)


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value or len(value) > 20_000:
        raise InputError(f"{field}: expected a non-empty string")
    return value
