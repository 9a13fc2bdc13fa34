from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipyard.ledger.store import DecisionKind, DecisionView
from shipyard.pipeline.approval import Answer, People, cautious, judge, superseded_by, tally
from shipyard.policy import Approver, EnvironmentPolicy

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{}"
APPROVERS = {
    "alice": Approver(keys=[KEY.format("A")], git=["asmith@example.com", "Alice Smith"], github="asmith"),
    "bob": Approver(keys=[KEY.format("B")], git=["bob@example.com"]),
    "carol": Approver(keys=[KEY.format("C")]),
}
RULES = EnvironmentPolicy.model_validate(
    {"target": {"backend": "local"}, "approval": True, "approvers": ["alice", "bob"], "min_steps": 2}
)
TWO = RULES.model_copy(update={"required_approvals": 2})
SELF_OK = RULES.model_copy(update={"allow_self_approval": True})
TYPED_OK = RULES.model_copy(update={"require_verified": False})
BY_ALICE = People(("Alice Smith", "asmith@example.com"))  # author and committer of the change
BY_DANA = People(("Dana", "dana@example.com"), logins=("asmith",))  # merged on GitHub by alice's login


def ssh(name: str, decision: str = "approve", reason: str = "ok", steps: list[int] | None = None) -> Answer:
    return Answer(decision, name, reason, traffic_steps=steps, via="ssh")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "rules", "people", "approved_by", "kind", "reason"),
    [
        (ssh("bob"), RULES, BY_ALICE, (), DecisionKind.APPROVED, "ok"),
        (Answer("approve", "bob", "ok", via="code"), RULES, BY_ALICE, (), DecisionKind.APPROVED, "ok"),
        (ssh("bob", "reject", "not today"), RULES, BY_ALICE, (), DecisionKind.REJECTED, "not today"),
        # a typed name proves nothing: recorded, not counted, whoever it names
        (Answer("approve", "bob", "ok"), RULES, BY_ALICE, (), DecisionKind.UNVERIFIED,
         "bob answered without a signature or a valid one-time code; recorded, not counted "
         "(`shipyard approvals code RUN` gives a code for the UI form)"),
        (Answer("reject", "bob", "no"), RULES, BY_ALICE, (), DecisionKind.UNVERIFIED,
         "bob answered without a signature or a valid one-time code; recorded, not counted "
         "(`shipyard approvals code RUN` gives a code for the UI form)"),
        (Answer("approve", "bob", "ok"), TYPED_OK, BY_ALICE, (), DecisionKind.APPROVED, "ok"),
        (Answer("approve", "bob", "ok", via="ssh", proof_refused="signature refused: no principal for this key"),
         RULES, BY_ALICE, (), DecisionKind.REFUSED, "signature refused: no principal for this key"),
        (ssh("carol"), RULES, BY_ALICE, (), DecisionKind.REFUSED, "carol is not an approver here (alice, bob)"),
        (ssh("bob", reason="  "), RULES, BY_ALICE, (), DecisionKind.REFUSED,
         "bob gave no reason; a decision needs one"),
        # self-approval: the change's people mapped through the policy, not a typed name
        (ssh("alice"), RULES, BY_ALICE, (), DecisionKind.REFUSED,
         "alice made this change (Alice Smith) and may not approve it"),
        (ssh("alice"), RULES, BY_DANA, (), DecisionKind.REFUSED,
         "alice made this change (@asmith) and may not approve it"),
        (ssh("alice"), SELF_OK, BY_ALICE, (), DecisionKind.APPROVED, "ok"),
        (ssh("alice", "reject", "withdrawn"), RULES, BY_ALICE, (), DecisionKind.REJECTED, "withdrawn"),
        # N distinct approvers
        (ssh("bob"), TWO, BY_DANA, (), DecisionKind.ENDORSED, "1 of 2 approvals (bob): ok"),
        (ssh("bob"), TWO, BY_DANA, ("bob",), DecisionKind.REFUSED,
         "bob already approved this run; the next approval must be someone else's"),
        (ssh("alice"), TWO.model_copy(update={"allow_self_approval": True}), BY_DANA, ("bob",),
         DecisionKind.APPROVED, "ok"),
        # an approver's plan is no bolder than the policy allows
        (ssh("bob", steps=[100]), RULES, BY_ALICE, (), DecisionKind.REFUSED,
         "traffic plan [100] has 1 step(s); the policy asks for at least 2 here"),
        (ssh("bob", steps=[50, 10, 100]), RULES, BY_ALICE, (), DecisionKind.REFUSED,
         "traffic steps [50, 10, 100] must increase from 1 to 100 and end at 100"),
    ],
)  # fmt: skip
def test_judge(
    answer: Answer, rules: EnvironmentPolicy, people: People, approved_by: tuple[str, ...], kind: DecisionKind,
    reason: str,
) -> None:  # fmt: skip
    verdict = judge(answer, rules, APPROVERS, people, approved_by)
    assert (verdict.kind, verdict.reason) == (kind, reason)


def test_an_approved_traffic_plan_replaces_the_environments_and_the_most_cautious_one_wins() -> None:
    assert judge(ssh("bob", steps=[5, 25, 100]), RULES, APPROVERS, BY_ALICE).steps == (5, 25, 100)
    assert judge(ssh("bob"), RULES, APPROVERS, BY_ALICE).steps is None
    assert cautious([(50, 100), None, (5, 25, 100), (10, 20, 100)]) == (5, 25, 100)
    assert cautious([None, None]) is None


def test_tally() -> None:
    assert tally([], 2) == "0 of 2 approvals"
    assert tally(["alice"], 2) == "1 of 2 approvals (alice)"
    assert tally(["alice"], 1) == "1 of 1 approval (alice)"


def decision(i: int, run: str, kind: DecisionKind) -> DecisionView:
    return DecisionView(i, "production", run, run * 40, "1.0", kind, "x", "ui", "", None, {}, datetime.now(UTC))


@pytest.mark.parametrize(
    ("history", "run", "by"),
    [
        # B asked after A and was approved first: A is superseded by B
        ([("A", "requested"), ("B", "requested"), ("B", "approved")], "A", "B"),
        # B was approved, then A approved: still superseded (B asked later)
        ([("A", "requested"), ("B", "requested"), ("B", "approved"), ("A", "approved")], "A", "B"),
        # A asked after B: B's approval does not supersede A
        ([("B", "requested"), ("A", "requested"), ("B", "approved")], "A", None),
        # a newer run that was only requested or rejected does not supersede
        ([("A", "requested"), ("B", "requested"), ("B", "rejected")], "A", None),
        ([("A", "requested"), ("B", "requested")], "A", None),
        # a run that never asked has nothing to compare
        ([("B", "requested"), ("B", "approved")], "A", None),
    ],
)
def test_superseded_by(history: list[tuple[str, str]], run: str, by: str | None) -> None:
    decisions = [decision(i, r, DecisionKind(k)) for i, (r, k) in enumerate(history, 1)]
    found = superseded_by(decisions, run)
    assert (found.flow_run_id if found else None) == by
