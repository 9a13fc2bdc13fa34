"""The approval gate: suspend the run (no worker held) until approvers answer the form in the Prefect UI (with a
one-time code) or from a terminal (`shipyard approve`, signed with their SSH key). Each answer is judged and recorded;
the run waits again until enough distinct verified approvers said yes, or one said no.

The ledger is the record of past answers: a run resumed re-runs from the top and reads each earlier answer's
decision from the ledger, never again from a flow-run input (which any Prefect API user can replace), and the
submitted form is deleted once judged, so a code never stays readable there."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput, keyset_from_base_key
from prefect.input.actions import delete_flow_run_input
from prefect.runtime import flow_run
from pydantic import Field

from shipyard import signatures
from shipyard.clients.slack import SlackNotifier
from shipyard.ledger import Asked, DecisionKind, DecisionView, Ledger
from shipyard.ledger.store import CodeUse
from shipyard.pipeline import approval_codes, messages
from shipyard.pipeline.approval import Answer, People, Verdict, Via, cautious, judge, tally
from shipyard.pipeline.binding import Bound, answer_payload
from shipyard.pipeline.candidate import Candidate
from shipyard.policy import EnvironmentPolicy, Policy
from shipyard.policy.model import PolicyRefused
from tasks.once import remembered
from tasks.slack import notify

REQUEST = "request"  # remembered: what `shipyard approve` shows the approver and signs over
COUNTED = (DecisionKind.ENDORSED, DecisionKind.APPROVED)


class ApprovalForm(RunInput):
    decision: Literal["approve", "reject"] = Field(description="Approve or reject this release.")
    approver: str = Field(description="Your name in Shipyard's policy (the one your code was issued to).")
    reason: str = Field(description="Why you approve or reject it.")
    code: str | None = Field(
        None,
        description="Your one-time code: `shipyard approvals code RUN_ID --key ~/.ssh/id_ed25519 --reason TEXT` "
        "(works once, for this run, you and exactly the answer you asked it for). Without one the answer is "
        "recorded as unverified and does not count.",
    )
    change_ticket: str | None = Field(None, description="Change ticket, e.g. CHG-1234.")
    traffic_steps: list[int] | None = Field(
        None, description="A different traffic plan, e.g. [5, 25, 100]; leave empty for the environment's."
    )
    signature: str | None = Field(None, description="Set by `shipyard approve`; leave empty in the UI.")


@dataclass(frozen=True)
class Gate:
    """What the gate judges against: the policy in force and who made the change."""

    policy: Policy
    rules: EnvironmentPolicy
    people: People


def approve_command(run_id: str) -> str:
    return f"shipyard approve {run_id} --key ~/.ssh/id_ed25519 --reason TEXT  # add --reject to reject"


def ask(ledger: Ledger, candidate: Candidate, bound: Bound, rules: EnvironmentPolicy) -> Bound:
    """Record the request with the digests of what would ship; returns the record's digests (a resumed run's
    first-pass record, whatever this pass prepared)."""
    run_id = str(flow_run.get_id())
    about = Asked(candidate.environment, run_id, candidate.sha, candidate.version)
    waiting = f"waiting for {tally([], rules.required_approvals)} from {', '.join(rules.approvers)}"
    details = bound.details() | {"required": rules.required_approvals}
    requested = ledger.decide(
        about, DecisionKind.REQUESTED, "pipeline", "pipeline", waiting, details=details,
        idempotency_key=f"{run_id}:requested",
    )  # fmt: skip
    if (requested.environment, requested.sha) != (candidate.environment, candidate.sha):
        raise PolicyRefused(
            f"this run asked for approval of {requested.sha[:12]} to {requested.environment}; its parameters now say "
            f"{candidate.sha[:12]} to {candidate.environment}: an approval is for what was asked, nothing deployed"
        )
    recorded = Bound.from_details(requested.details)
    remembered(REQUEST, lambda: {"environment": candidate.environment, "sha": candidate.sha,
                                   "version": candidate.version} | recorded.details())  # fmt: skip
    return recorded


def approval_gate(
    ledger: Ledger, candidate: Candidate, bound: Bound, gate: Gate, slack: SlackNotifier | None
) -> Verdict:
    """Returns an approval (enough distinct verified approvers) or a rejection; a run nobody decides on in time is
    failed by the server (the relay's approval watcher records that as expired). bound: from ask()."""
    run_id = str(flow_run.get_id())
    about = Asked(candidate.environment, run_id, candidate.sha, candidate.version)
    rules = gate.rules
    requested = ledger.decision(f"{run_id}:requested")
    assert requested is not None, "ask() records the request first"
    command = approve_command(run_id)
    timeout = rules.approval_timeout_hours
    notify(slack, messages.approval_needed(candidate, rules.approvers, timeout, command), "approval-needed")
    deadline = requested.at.timestamp() + timeout * 3600
    counted: list[DecisionView] = []
    for attempt in itertools.count(1):
        key = f"approval-{attempt}"
        decided = ledger.decision(f"{run_id}:{key}")
        if decided is None:
            so_far = tally([d.actor for d in counted], rules.required_approvals)
            form = ApprovalForm.with_initial_data(
                description=candidate.describe(rules.approvers, timeout, command, so_far), decision="approve"
            )
            left = max(1, int(deadline - datetime.now(UTC).timestamp()))
            given = suspend_flow_run(wait_for_input=form, timeout=left, key=key)
            assert given is not None
            answer = _identified(given, run_id, candidate, bound, gate, ledger)
            verdict = judge(answer, rules, gate.policy.approvers, gate.people, [d.actor for d in counted])
            decided = ledger.decide(
                about, verdict.kind, answer.approver or "(nobody)", answer.via, verdict.reason,
                ticket=answer.change_ticket, details={"traffic_steps": list(verdict.steps) if verdict.steps else None},
                idempotency_key=f"{run_id}:{key}",
            )  # fmt: skip
            _forget(key)
            _tell(slack, candidate, decided, [d.actor for d in counted], rules.required_approvals, attempt)
        if decided.kind in COUNTED and decided.actor in rules.approvers:  # a removed approver's yes no longer counts
            counted.append(decided)
        if decided.kind in (DecisionKind.APPROVED, DecisionKind.REJECTED):
            steps = cautious([_steps(d) for d in counted]) if decided.kind is DecisionKind.APPROVED else None
            return Verdict(decided.kind, decided.reason, steps)
    raise AssertionError("unreachable")


def _tell(
    slack: SlackNotifier | None,
    candidate: Candidate,
    decided: DecisionView,
    counted: list[str],
    required: int,
    attempt: int,
) -> None:
    progress = tally([*counted, decided.actor], required) if decided.kind is DecisionKind.ENDORSED else ""
    text = messages.decided(candidate, decided.kind.value, decided.actor, decided.via, decided.reason, decided.ticket,
                            progress)  # fmt: skip
    notify(slack, text, f"decision-{attempt}")


def _identified(
    given: ApprovalForm, run_id: str, candidate: Candidate, bound: Bound, gate: Gate, ledger: Ledger
) -> Answer:
    """The answer with the identity its proof establishes: a signature's principal ("ssh"), a code's owner
    ("code"), or the typed name, unverified ("ui")."""
    answer = Answer(given.decision, given.approver.strip(), given.reason, given.change_ticket, given.traffic_steps)
    if given.signature:
        payload = answer_payload(run_id, candidate.environment, candidate.sha, bound, given.decision, given.reason,
                                 given.change_ticket, given.traffic_steps)  # fmt: skip
        signers = gate.policy.signers(gate.rules.approvers)
        try:
            principal = signatures.verify(signatures.canonical(payload), given.signature, signatures.ANSWER_NAMESPACE,
                                          signers)  # fmt: skip
        except signatures.SignatureRefused as exc:
            return _refused(answer, "ssh", f"signature refused: {exc}", answer.approver or "(unknown key)")
        if answer.approver and answer.approver != principal:
            return _refused(answer, "ssh", f"signed by {principal}'s key but names {answer.approver}", principal)
        return _as(answer, principal, "ssh")
    if given.code:
        answered = approval_codes.answer_of(given.decision, given.reason, given.change_ticket, given.traffic_steps)
        use = ledger.use_code(run_id, answer.approver, approval_codes.digest(given.code, answered))
        if use is not CodeUse.ACCEPTED:
            return _refused(answer, "code", f"one-time code refused: {use.value}", answer.approver)
        return _as(answer, answer.approver, "code")
    return answer


def _as(answer: Answer, name: str, via: Literal["ssh", "code"]) -> Answer:
    return Answer(answer.decision, name, answer.reason, answer.change_ticket, answer.traffic_steps, via)


def _refused(answer: Answer, via: Via, why: str, name: str) -> Answer:
    return Answer(answer.decision, name, answer.reason, answer.change_ticket, answer.traffic_steps, via, why)


def _steps(decision: DecisionView) -> tuple[int, ...] | None:
    steps = decision.details.get("traffic_steps")
    return tuple(steps) if steps else None


def _forget(key: str) -> None:
    """Delete the submitted form: a code in it was used now, and must not stay readable to every API user."""
    delete_flow_run_input(keyset_from_base_key(f"suspended-{key}")["response"])
