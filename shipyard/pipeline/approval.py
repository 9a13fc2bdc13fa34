"""The approval gate's rules: who may decide, self-approval, a different traffic plan, supersession."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shipyard.config.environments import Environment
from shipyard.ledger.store import DecisionKind, DecisionView
from shipyard.release.rollout import plan_problem


@dataclass(frozen=True)
class Answer:
    """What an approver submitted (the Prefect UI form or `shipyard approve`)."""

    decision: Literal["approve", "reject"]
    approver: str
    reason: str
    change_ticket: str | None = None
    traffic_steps: list[int] | None = None
    via: str = "ui"


@dataclass(frozen=True)
class Verdict:
    kind: DecisionKind  # APPROVED, REJECTED or REFUSED (the run waits for another answer)
    reason: str
    steps: tuple[int, ...] | None = None  # the traffic plan that replaces the environment's, when one was given


def judge(answer: Answer, environment: Environment, author_name: str, author_email: str) -> Verdict:
    name = answer.approver.strip()
    if not name:
        return Verdict(DecisionKind.REFUSED, "no approver name was given")
    if name.casefold() not in {a.casefold() for a in environment.approvers}:
        return Verdict(DecisionKind.REFUSED, f"{name} is not an approver here ({', '.join(environment.approvers)})")
    if not answer.reason.strip():
        return Verdict(DecisionKind.REFUSED, f"{name} gave no reason; a decision needs one")
    if answer.decision == "reject":
        return Verdict(DecisionKind.REJECTED, answer.reason.strip())
    if not environment.allow_self_approval and _is_author(name, author_name, author_email):
        return Verdict(DecisionKind.REFUSED, f"{name} wrote this change and may not approve it")
    steps = answer.traffic_steps or None
    problem = plan_problem(steps) if steps is not None else ""
    if problem:
        return Verdict(DecisionKind.REFUSED, problem)
    return Verdict(DecisionKind.APPROVED, answer.reason.strip(), tuple(steps) if steps else None)


def _is_author(name: str, author_name: str, author_email: str) -> bool:
    mine = name.casefold()
    local_part = author_email.partition("@")[0].casefold()
    return mine in {author_name.casefold(), author_email.casefold(), local_part}


def superseded_by(decisions: Sequence[DecisionView], flow_run_id: str) -> DecisionView | None:
    """The approval of a run that asked after this one did, if any: deploying this one then would overtake it."""
    asked = [d.id for d in decisions if d.flow_run_id == flow_run_id and d.kind is DecisionKind.REQUESTED]
    if not asked:
        return None
    later = [
        d
        for d in decisions
        if d.kind is DecisionKind.APPROVED and d.flow_run_id != flow_run_id and _asked_at(decisions, d) > asked[0]
    ]
    return later[-1] if later else None


def _asked_at(decisions: Sequence[DecisionView], approval: DecisionView) -> int:
    asked = [d.id for d in decisions if d.flow_run_id == approval.flow_run_id and d.kind is DecisionKind.REQUESTED]
    return asked[0] if asked else approval.id
