from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipyard.config.environments import Environment
from shipyard.ledger.store import DecisionKind, DecisionView
from shipyard.pipeline.approval import Answer, judge, superseded_by

ENV = Environment.model_validate({"target": {"backend": "local"}, "approval": True, "approvers": ["alice", "Dana"]})
SELF_OK = ENV.model_copy(update={"allow_self_approval": True})
AUTHOR = ("Dana Developer", "dana@example.com")


@pytest.mark.parametrize(
    ("answer", "environment", "kind", "reason"),
    [
        (Answer("approve", "alice", "ok"), ENV, DecisionKind.APPROVED, "ok"),
        (Answer("approve", " ALICE ", "ok"), ENV, DecisionKind.APPROVED, "ok"),
        (Answer("reject", "alice", "not today"), ENV, DecisionKind.REJECTED, "not today"),
        (
            Answer("approve", "mallory", "ok"),
            ENV,
            DecisionKind.REFUSED,
            "mallory is not an approver here (alice, Dana)",
        ),
        (Answer("reject", "mallory", "no"), ENV, DecisionKind.REFUSED, "mallory is not an approver here (alice, Dana)"),
        (Answer("approve", "", "ok"), ENV, DecisionKind.REFUSED, "no approver name was given"),
        (Answer("approve", "alice", "  "), ENV, DecisionKind.REFUSED, "alice gave no reason; a decision needs one"),
        (Answer("approve", "dana", "mine"), ENV, DecisionKind.REFUSED, "dana wrote this change and may not approve it"),
        (Answer("approve", "dana", "mine"), SELF_OK, DecisionKind.APPROVED, "mine"),
        (Answer("reject", "dana", "withdrawn"), ENV, DecisionKind.REJECTED, "withdrawn"),
        (
            Answer("approve", "alice", "ok", traffic_steps=[50, 10, 100]),
            ENV,
            DecisionKind.REFUSED,
            "traffic steps [50, 10, 100] must increase from 1 to 100 and end at 100",
        ),
        (
            Answer("approve", "alice", "ok", traffic_steps=[25, 50]),
            ENV,
            DecisionKind.REFUSED,
            "traffic steps [25, 50] must increase from 1 to 100 and end at 100",
        ),
    ],
)
def test_judge(answer: Answer, environment: Environment, kind: DecisionKind, reason: str) -> None:
    verdict = judge(answer, environment, *AUTHOR)
    assert (verdict.kind, verdict.reason) == (kind, reason)


def test_an_approved_traffic_plan_replaces_the_environments() -> None:
    verdict = judge(Answer("approve", "alice", "careful", traffic_steps=[5, 25, 100]), ENV, *AUTHOR)
    assert verdict.steps == (5, 25, 100)
    assert judge(Answer("approve", "alice", "ok"), ENV, *AUTHOR).steps is None


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
