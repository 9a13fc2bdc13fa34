"""One-time UI codes: issued only for a signed, fresh request by an approver of the run's environment while the run
waits; bound to (run, approver), once, until they expire. Real ssh-keygen keys, a SQLite ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import signatures
from shipyard.errors import InputError
from shipyard.ledger import Asked, DecisionKind, Ledger
from shipyard.ledger.store import CodeUse
from shipyard.pipeline.approval_codes import CodeRefused, answer_of, digest, issue, new_request
from shipyard.policy import Policy
from tests.capabilities import require_tools
from tests.support.approvers import make_keys, public_key

RUN, OTHER = "8f1d7a52-0000-4000-8000-000000000001", "8f1d7a52-0000-4000-8000-000000000002"  # both waiting
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
YES = answer_of("approve", "reviewed", None, None)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    require_tools("ssh-keygen")
    return make_keys(tmp_path / "keys", "alice", "bob", "mallory")


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    """The suite's SQLite ledger with both runs waiting at their gate."""
    for run in (RUN, OTHER):
        ledger.decide(Asked("production", run, "a" * 40, "1.0"), DecisionKind.REQUESTED, "pipeline", "pipeline", "",
                      idempotency_key=f"{run}:requested")  # fmt: skip
    return ledger


def policy(keys: dict[str, Path]) -> Policy:
    return Policy.model_validate(
        {
            "repository": "https://github.com/example/platform.git",
            "approvers": {name: {"keys": [public_key(keys[name])]} for name in ("alice", "bob")},
            "environments": {
                "production": {"target": {"backend": "local"}, "approval": True, "approvers": ["alice"]},
            },
        }
    )


def signed(key: Path, run: str = RUN, now: datetime = NOW, answer: dict[str, object] = YES) -> dict[str, object]:
    request = new_request(run, answer, now)
    return request | {"signature": signatures.sign(signatures.canonical(request), signatures.CODE_NAMESPACE, key)}


def test_a_signed_fresh_request_by_an_approver_gets_a_code_that_works_once(
    keys: dict[str, Path], ledger: Ledger
) -> None:
    issued = issue(ledger, policy(keys), signed(keys["alice"]), NOW)
    assert issued.approver == "alice" and issued.expires_at == NOW + timedelta(minutes=15)
    assert len(issued.code) == 14 and issued.code.count("-") == 2
    typed = issued.code.lower().replace("-", " ")  # as someone might type it
    assert ledger.use_code(RUN, "bob", digest(typed, YES), NOW) is CodeUse.OTHER_RUN
    assert ledger.use_code(RUN, "alice", digest(typed, YES), NOW) is CodeUse.ACCEPTED
    assert ledger.use_code(RUN, "alice", digest(issued.code, YES), NOW) is CodeUse.USED


@pytest.mark.parametrize(
    "rewritten",
    [
        answer_of("reject", "reviewed", None, None),
        answer_of("approve", "reviewed!", None, None),
        answer_of("approve", "reviewed", "CHG-9", None),
        answer_of("approve", "reviewed", None, [50, 100]),
    ],
)
def test_a_code_carries_only_the_answer_it_was_asked_for(
    keys: dict[str, Path], ledger: Ledger, rewritten: dict[str, object]
) -> None:
    """An API user who rewrites the submitted form (decision, reason, ticket, plan) keeps the code, not its answer."""
    issued = issue(ledger, policy(keys), signed(keys["alice"]), NOW)
    assert ledger.use_code(RUN, "alice", digest(issued.code, rewritten), NOW) is CodeUse.UNKNOWN
    assert (
        ledger.use_code(RUN, "alice", digest(f"  {issued.code} ", answer_of("approve", " reviewed ", "", [])), NOW)
        is CodeUse.ACCEPTED
    )


def test_a_code_expires(keys: dict[str, Path], ledger: Ledger) -> None:
    issued = issue(ledger, policy(keys), signed(keys["alice"]), NOW)
    assert ledger.use_code(RUN, "alice", digest(issued.code, YES), NOW + timedelta(minutes=16)) is CodeUse.EXPIRED


@pytest.mark.parametrize(
    ("who", "change", "refusal"),
    [
        ("mallory", {}, "signature refused: "),  # a key the policy does not list
        ("bob", {}, "signature refused: "),  # in the policy, not an approver of production
        ("alice", {"run": OTHER}, "signature refused: "),  # signed for another run
        ("alice", {"at": (NOW - timedelta(minutes=6)).isoformat()}, "must be signed within 0:05:00 of now"),
        ("alice", {"answer": answer_of("reject", "reviewed", None, None)}, "signature refused: "),  # answer changed
    ],
)
def test_a_request_that_proves_nothing_gets_no_code(
    keys: dict[str, Path], ledger: Ledger, who: str, change: dict[str, str], refusal: str
) -> None:
    body = signed(keys[who]) | change
    with pytest.raises(CodeRefused, match=refusal):
        issue(ledger, policy(keys), body, NOW)


def test_a_run_that_is_not_waiting_gets_no_code(keys: dict[str, Path], ledger: Ledger) -> None:
    with pytest.raises(CodeRefused, match="has not asked for an approval"):
        issue(ledger, policy(keys), signed(keys["alice"], run="8f1d7a52-0000-4000-8000-000000000009"), NOW)
    about = Asked("production", RUN, "a" * 40, "1.0")
    ledger.decide(about, DecisionKind.REJECTED, "alice", "ssh", "no")
    with pytest.raises(CodeRefused, match="is not waiting for an approval any more"):
        issue(ledger, policy(keys), signed(keys["alice"]), NOW)


def test_a_replayed_request_gets_no_second_code(keys: dict[str, Path], ledger: Ledger) -> None:
    body = signed(keys["alice"])
    issue(ledger, policy(keys), body, NOW)
    with pytest.raises(InputError, match="already answered"):
        issue(ledger, policy(keys), body, NOW + timedelta(seconds=30))
