"""The approval gate's rules: whose answer counts (a verified identity from the policy), self-approval on mapped
identities, N distinct approvers, a traffic plan no bolder than the policy allows, supersession."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shipyard.ledger.store import DecisionKind, DecisionView
from shipyard.policy.model import Approver, EnvironmentPolicy
from shipyard.release.rollout import plan_problem

Via = Literal["ssh", "code", "ui"]  # how the approver's identity was established: a signature, a one-time code, none


@dataclass(frozen=True)
class Answer:
    """What an approver submitted (the Prefect UI form or `shipyard approve`), with how their identity was checked."""

    decision: Literal["approve", "reject"]
    approver: str  # the signature's principal or the code's owner; typed when via is "ui"
    reason: str
    change_ticket: str | None = None
    traffic_steps: list[int] | None = None
    via: Via = "ui"
    proof_refused: str = ""  # a signature or code was given and did not check out: why


@dataclass(frozen=True)
class People:
    """Who made the change: the commit's author and committer (emails and names), and GitHub logins where the
    delivery named them (a pull request's author or merger)."""

    identities: tuple[str, ...]
    logins: tuple[str, ...] = ()

    def include(self, approver: Approver) -> str | None:
        """The identity of this change that is the approver's, if any."""
        mine = {i.casefold() for i in approver.git}
        found = next((i for i in self.identities if i.casefold() in mine), None)
        if found is None and approver.github:
            found = next((f"@{login}" for login in self.logins if login.casefold() == approver.github.casefold()), None)
        return found


@dataclass(frozen=True)
class Verdict:
    kind: DecisionKind  # APPROVED, ENDORSED (counted, more needed), REJECTED; REFUSED or UNVERIFIED: waits again
    reason: str
    steps: tuple[int, ...] | None = None  # the traffic plan that replaces the environment's, when one was given


def judge(
    answer: Answer,
    rules: EnvironmentPolicy,
    approvers: dict[str, Approver],
    people: People,
    approved_by: Sequence[str] = (),
) -> Verdict:
    """approved_by: who already approved this run (verified), in order."""
    name = answer.approver.strip()
    if answer.proof_refused:
        return Verdict(DecisionKind.REFUSED, answer.proof_refused)
    if answer.via == "ui" and rules.require_verified:
        return Verdict(
            DecisionKind.UNVERIFIED,
            f"{name or 'someone'} answered without a signature or a valid one-time code; recorded, not counted "
            "(`shipyard approvals code RUN` gives a code for the UI form)",
        )
    if not name:
        return Verdict(DecisionKind.REFUSED, "no approver name was given")
    if name not in rules.approvers:
        return Verdict(DecisionKind.REFUSED, f"{name} is not an approver here ({', '.join(rules.approvers)})")
    if not answer.reason.strip():
        return Verdict(DecisionKind.REFUSED, f"{name} gave no reason; a decision needs one")
    if answer.decision == "reject":
        return Verdict(DecisionKind.REJECTED, answer.reason.strip())
    if name in approved_by:
        return Verdict(
            DecisionKind.REFUSED, f"{name} already approved this run; the next approval must be someone else's"
        )
    own = people.include(approvers[name]) if name in approvers else None
    if not rules.allow_self_approval and own:
        return Verdict(DecisionKind.REFUSED, f"{name} made this change ({own}) and may not approve it")
    steps = answer.traffic_steps or None
    problem = _plan_problem(steps, rules) if steps is not None else ""
    if problem:
        return Verdict(DecisionKind.REFUSED, problem)
    given = tuple(steps) if steps else None
    count, required = len(approved_by) + 1, rules.required_approvals
    if count < required:
        return Verdict(
            DecisionKind.ENDORSED, f"{tally([*approved_by, name], required)}: {answer.reason.strip()}", given
        )
    return Verdict(DecisionKind.APPROVED, answer.reason.strip(), given)


def tally(approved_by: Sequence[str], required: int) -> str:
    """'1 of 2 approvals (alice)'"""
    names = f" ({', '.join(approved_by)})" if approved_by else ""
    return f"{len(approved_by)} of {required} approval{'s' if required > 1 else ''}{names}"


def _plan_problem(steps: list[int], rules: EnvironmentPolicy) -> str:
    problem = plan_problem(steps)
    if problem:
        return problem
    if len(steps) < rules.min_steps:
        return f"traffic plan {steps} has {len(steps)} step(s); the policy asks for at least {rules.min_steps} here"
    return ""


def cautious(plans: Sequence[tuple[int, ...] | None]) -> tuple[int, ...] | None:
    """Of the plans the approvers gave, the one with the most steps (the first of equals): no approver's caution is
    dropped by another's bolder plan."""
    given = [plan for plan in plans if plan]
    return max(given, key=len) if given else None


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
