"""The approval gate: suspend the run (no worker held) until an approver answers the form in the Prefect UI, or
`shipyard approve` answers it from a terminal; refused answers are recorded and the run waits again."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Literal

from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import read_flow_run_input
from prefect.runtime import flow_run
from pydantic import Field

from shipyard.clients.slack import SlackNotifier
from shipyard.config.environments import Environment
from shipyard.ledger import Asked, DecisionKind, Ledger
from shipyard.pipeline import messages
from shipyard.pipeline.approval import Answer, Verdict, judge
from shipyard.pipeline.candidate import Candidate
from tasks.slack import notify

VIA_KEY = "shipyard-via-{pause_key}"  # `shipyard approve` leaves "cli" here before it resumes the run


class ApprovalForm(RunInput):
    decision: Literal["approve", "reject"] = Field(description="Approve or reject this release.")
    approver: str = Field(
        description="Your name as listed in the environment's approvers. The Prefect UI has no logins: this is "
        "recorded as you type it."
    )
    reason: str = Field(description="Why you approve or reject it.")
    change_ticket: str | None = Field(None, description="Change ticket, e.g. CHG-1234.")
    traffic_steps: list[int] | None = Field(
        None, description="A different traffic plan, e.g. [5, 25, 100]; leave empty for the environment's."
    )


def approve_command(run_id: str) -> str:
    return f"shipyard approve {run_id} --as NAME --reason TEXT  # add --reject to reject"


def approval_gate(
    ledger: Ledger,
    environment_name: str,
    environment: Environment,
    candidate: Candidate,
    author: tuple[str, str],
    slack: SlackNotifier | None,
) -> Verdict:
    """Returns an approval or a rejection; a run nobody decides on in time is failed by the server (the relay's
    approval watcher records that as expired)."""
    run_id = str(flow_run.get_id())
    about = Asked(environment_name, run_id, candidate.sha, candidate.version)
    waiting = f"waiting for one of {', '.join(environment.approvers)}"
    requested = ledger.decide(
        about, DecisionKind.REQUESTED, "pipeline", "pipeline", waiting, idempotency_key=f"{run_id}:requested"
    )
    command = approve_command(run_id)
    timeout = environment.approval_timeout_hours
    notify(slack, messages.approval_needed(candidate, environment.approvers, timeout, command), "approval-needed")
    deadline = requested.at.timestamp() + timeout * 3600
    form = ApprovalForm.with_initial_data(
        description=candidate.describe(environment.approvers, timeout, command), decision="approve"
    )
    for attempt in itertools.count(1):
        key = f"approval-{attempt}"
        left = max(1, int(deadline - datetime.now(UTC).timestamp()))
        given = suspend_flow_run(wait_for_input=form, timeout=left, key=key)
        assert given is not None
        via = str(read_flow_run_input(VIA_KEY.format(pause_key=key)) or "ui")
        answer = Answer(given.decision, given.approver, given.reason, given.change_ticket, given.traffic_steps, via)
        verdict = judge(answer, environment, *author)
        ledger.decide(
            about,
            verdict.kind,
            answer.approver or "(nobody)",
            via,
            verdict.reason,
            ticket=answer.change_ticket,
            details={"traffic_steps": list(verdict.steps) if verdict.steps else None},
            idempotency_key=f"{run_id}:{key}",
        )
        notify(
            slack,
            messages.decided(candidate, verdict.kind.value, answer.approver, via, verdict.reason, answer.change_ticket),
            f"decision-{attempt}",
        )
        if verdict.kind is not DecisionKind.REFUSED:
            return verdict
    raise AssertionError("unreachable")
