"""Policy versions and one-time approval codes in the ledger, on SQLite and on PostgreSQL."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest

from shipyard.digests import code_hash, document_digest
from shipyard.errors import InputError
from shipyard.ledger import CodeUse, Ledger

T = TypeVar("T")

POLICY = {"environments": {"production": {"approvers": ["alice", "bob"], "required": 1}}}
LATER = {"environments": {"production": {"approvers": ["alice", "bob", "carol"], "required": 2}}}
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PACIFIC = timezone(timedelta(hours=-8))  # the same instant in another zone is the same instant


def test_each_change_is_the_next_version_with_who_and_why(ledger: Ledger) -> None:
    assert ledger.policy() is None and ledger.policy_history() == []
    first = ledger.set_policy(POLICY, "alice", "first policy")
    second = ledger.set_policy(LATER, "bob", "two approvals for production")
    third = ledger.set_policy(POLICY, "alice", "back to one: carol left")  # equal to version 1, not to the current
    assert [(p.version, p.actor, p.reason) for p in ledger.policy_history()] == [
        (1, "alice", "first policy"),
        (2, "bob", "two approvals for production"),
        (3, "alice", "back to one: carol left"),
    ]
    assert ledger.policy() == third
    assert (first.document, second.document) == (POLICY, LATER)
    assert first.digest == third.digest == document_digest(POLICY) != second.digest
    assert all(p.at.tzinfo is not None for p in ledger.policy_history())


def test_the_same_document_again_is_no_new_version_whatever_its_key_order(ledger: Ledger) -> None:
    first = ledger.set_policy({"a": 1, "b": [1, 2]}, "alice", "first")
    again = ledger.set_policy({"b": [1, 2], "a": 1}, "mallory", "no change at all")
    assert again == first
    assert [p.version for p in ledger.policy_history()] == [1]


def test_a_policy_document_is_stored_as_it_reads_back(ledger: Ledger) -> None:
    stored = ledger.set_policy({"approvers": ("alice",)}, "alice", "tuple in, list out")
    assert stored.document == {"approvers": ["alice"]}
    assert ledger.policy() == stored
    assert stored.digest == document_digest({"approvers": ["alice"]})


@pytest.mark.parametrize(
    ("document", "actor", "reason", "why"),
    [
        (POLICY, "", "why", "actor and reason must not be blank"),
        (POLICY, "alice", "  ", "actor and reason must not be blank"),
        ({"when": datetime(2026, 1, 1)}, "alice", "why", "not plain JSON"),
        ({"ratio": float("nan")}, "alice", "why", "not plain JSON"),
    ],
)
def test_a_change_without_who_and_why_or_not_json_is_refused(
    ledger: Ledger, document: dict[str, object], actor: str, reason: str, why: str
) -> None:
    with pytest.raises(InputError, match=why):
        ledger.set_policy(document, actor, reason)
    assert ledger.policy_history() == []


def test_writers_racing_for_the_next_version_each_get_one(ledger: Ledger) -> None:
    results = race(4, lambda n: ledger.set_policy({"n": n}, f"writer-{n}", "race"))
    assert sorted(p.version for p in results) == [1, 2, 3, 4]
    assert ledger.policy_history() == sorted(results, key=lambda p: p.version)


def issue(ledger: Ledger, code: str, run: str = "run-1", approver: str = "alice", nonce: str = "") -> None:
    ledger.issue_code(run, approver, code_hash(code), nonce or f"nonce-{code}", NOW + timedelta(minutes=5))


def test_a_code_is_accepted_once(ledger: Ledger) -> None:
    issue(ledger, "code-1")
    assert ledger.use_code("run-1", "alice", code_hash("code-1"), NOW) is CodeUse.ACCEPTED
    assert ledger.use_code("run-1", "alice", code_hash("code-1"), NOW + timedelta(seconds=1)) is CodeUse.USED


@pytest.mark.parametrize(
    ("run", "approver", "code", "at", "expected"),
    [
        ("run-1", "alice", "code-1", NOW + timedelta(minutes=4, seconds=59), CodeUse.ACCEPTED),
        ("run-1", "alice", "code-1", NOW + timedelta(minutes=5), CodeUse.EXPIRED),
        ("run-1", "alice", "code-1", NOW + timedelta(days=1), CodeUse.EXPIRED),
        ("run-2", "alice", "code-1", NOW, CodeUse.OTHER_RUN),
        ("run-1", "bob", "code-1", NOW, CodeUse.OTHER_RUN),
        ("run-1", "alice", "code-2", NOW, CodeUse.UNKNOWN),
        ("run-1", "alice", "code-1", (NOW + timedelta(minutes=6)).astimezone(PACIFIC), CodeUse.EXPIRED),
        ("run-1", "alice", "code-1", (NOW + timedelta(minutes=4)).astimezone(PACIFIC), CodeUse.ACCEPTED),
    ],
)
def test_a_code_counts_only_for_its_run_and_approver_before_it_expires(
    ledger: Ledger, run: str, approver: str, code: str, at: datetime, expected: CodeUse
) -> None:
    issue(ledger, "code-1")
    assert ledger.use_code(run, approver, code_hash(code), at) is expected
    if expected is not CodeUse.ACCEPTED:  # a failed attempt does not spend the code
        assert ledger.use_code("run-1", "alice", code_hash("code-1"), NOW) is CodeUse.ACCEPTED


def test_a_used_code_that_has_expired_since_says_it_was_used(ledger: Ledger) -> None:
    issue(ledger, "code-1")
    assert ledger.use_code("run-1", "alice", code_hash("code-1"), NOW) is CodeUse.ACCEPTED
    assert ledger.use_code("run-1", "alice", code_hash("code-1"), NOW + timedelta(hours=1)) is CodeUse.USED


def test_a_replayed_code_request_gets_no_code(ledger: Ledger) -> None:
    issue(ledger, "code-1", nonce="request-7")
    with pytest.raises(InputError, match=r"this code request was already answered \(replayed\?\)"):
        issue(ledger, "code-2", nonce="request-7")
    assert ledger.use_code("run-1", "alice", code_hash("code-2"), NOW) is CodeUse.UNKNOWN


@pytest.mark.parametrize(
    ("hashed", "nonce", "expires_at", "why"),
    [
        ("code-1", "n", NOW, "kept as its hash"),
        ("sha256:" + "A" * 64, "n", NOW, "kept as its hash"),
        (code_hash("code-1"), " ", NOW, "needs its nonce"),
        (code_hash("code-1"), "n", NOW.replace(tzinfo=None), "expires_at must carry its time zone"),
    ],
)
def test_a_code_is_issued_only_as_a_hash_with_a_nonce_and_an_aware_expiry(
    ledger: Ledger, hashed: str, nonce: str, expires_at: datetime, why: str
) -> None:
    with pytest.raises(InputError, match=why):
        ledger.issue_code("run-1", "alice", hashed, nonce, expires_at)


def test_the_same_code_issued_twice_is_refused(ledger: Ledger) -> None:
    issue(ledger, "code-1", nonce="request-1")
    with pytest.raises(InputError, match="issued before"):
        issue(ledger, "code-1", nonce="request-2")


def test_a_naive_time_to_compare_with_is_refused(ledger: Ledger) -> None:
    issue(ledger, "code-1")
    with pytest.raises(InputError, match="now must carry its time zone"):
        ledger.use_code("run-1", "alice", code_hash("code-1"), NOW.replace(tzinfo=None))


def test_without_a_time_given_a_code_is_checked_against_the_clock(ledger: Ledger) -> None:
    ledger.issue_code("run-1", "alice", code_hash("fresh"), "n-1", datetime.now(UTC) + timedelta(minutes=5))
    ledger.issue_code("run-1", "alice", code_hash("stale"), "n-2", datetime.now(UTC) - timedelta(seconds=1))
    assert ledger.use_code("run-1", "alice", code_hash("stale")) is CodeUse.EXPIRED
    assert ledger.use_code("run-1", "alice", code_hash("fresh")) is CodeUse.ACCEPTED


def test_of_callers_racing_to_use_one_code_exactly_one_is_accepted(ledger: Ledger) -> None:
    issue(ledger, "code-1")
    results = race(6, lambda _: ledger.use_code("run-1", "alice", code_hash("code-1"), NOW))
    assert sorted(results) == sorted([CodeUse.ACCEPTED] + [CodeUse.USED] * 5)


def race(callers: int, call: Callable[[int], T]) -> list[T]:
    """Every caller released at once (a barrier), each on its own thread and database connection."""
    barrier = threading.Barrier(callers)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def one(n: int) -> None:
        barrier.wait()
        try:
            results[n] = call(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [results[n] for n in range(callers)]
