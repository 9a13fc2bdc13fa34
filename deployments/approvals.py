"""Approvals from outside the UI: `shipyard approve` resumes a suspended run with the same form the UI shows, signed
with the approver's SSH key, and the watcher records approvals nobody gave in time (the server fails those runs
without running any flow code)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout, ObjectNotFound
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

from shipyard import signatures
from shipyard.clients.slack import SlackNotifier
from shipyard.config.schema import PipelineConfig
from shipyard.errors import InputError
from shipyard.ledger import DecisionKind, Ledger
from shipyard.ledger.store import WAITING
from shipyard.pipeline import messages
from shipyard.pipeline.binding import Bound, answer_payload
from shipyard.pipeline.candidate import Candidate
from shipyard.resources import opened
from tasks.approval_gate import REQUEST
from tasks.once import input_key

EXPIRED_MESSAGE = "paused and never resumed"  # what the server's pause-expiry service writes
ENDED = set(DecisionKind) - WAITING  # after a refusal or a partial approval the run waits again


def answer(
    run_id: str, reject: bool, key: Path, reason: str, ticket: str | None = None, steps: list[int] | None = None
) -> str:
    """Sign the answer with the approver's SSH key (over the run, what it ships and the decision) and resume the
    run's approval gate with it; returns the gate's key. The run verifies the signature against the policy."""
    flow_run_id = _run_id(run_id)
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            raise InputError(f"no flow run {run_id} on this Prefect server") from None
    state = run.state
    if state is None or not state.is_paused() or not state.state_details.pause_key:
        raise InputError(f"flow run {run_id} is not waiting for an approval (it is {state.name if state else 'new'})")
    asked = read_flow_run_input(input_key(REQUEST), flow_run_id=flow_run_id)
    if not isinstance(asked, dict):
        raise InputError(f"flow run {run_id} has not published what it asks approval for")
    decision = "reject" if reject else "approve"
    payload = answer_payload(run_id, asked["environment"], asked["sha"], Bound.from_details(asked), decision, reason,
                             ticket, steps)  # fmt: skip
    signature = signatures.sign(signatures.canonical(payload), signatures.ANSWER_NAMESPACE, key)
    form: dict[str, Any] = {"decision": decision, "approver": "", "reason": reason, "signature": signature}
    if ticket:
        form["change_ticket"] = ticket
    if steps:
        form["traffic_steps"] = steps
    try:
        resume_flow_run(flow_run_id, run_input=form)
    except (RuntimeError, FlowPauseTimeout) as exc:  # the form failed the run's schema, or the gate expired
        raise InputError(f"flow run {run_id} refused the answer: {exc}") from None
    return str(state.state_details.pause_key)


def _run_id(run_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(run_id)
    except ValueError:
        raise InputError(f"{run_id!r} is not a flow run id") from None


def sweep_expired(config: PipelineConfig, ledger: Ledger, slack: SlackNotifier | None) -> list[str]:
    """Record 'expired' for every run that asked for an approval and was failed by the server's pause timeout, and
    'abandoned' for one that ended otherwise (cancelled, crashed, deleted) with nobody deciding, so that no run is
    read again once it ended; returns the flow run ids recorded now. Safe to run any number of times (one record
    per run)."""
    recorded = []
    with get_client(sync_client=True) as client:
        for environment in config.environments:
            decisions = ledger.decisions(environment)
            ended = {d.flow_run_id for d in decisions if d.kind in ENDED}
            for asked in [d for d in decisions if d.kind is DecisionKind.REQUESTED and d.flow_run_id not in ended]:
                try:
                    state = client.read_flow_run(uuid.UUID(asked.flow_run_id)).state
                except (ObjectNotFound, ValueError):
                    abandoned: str | None = "the flow run is not on the Prefect server any more"
                else:
                    if state is None or not state.is_final():
                        continue  # still waiting for its approval, or deploying after one
                    expired = state.is_failed() and EXPIRED_MESSAGE in (state.message or "")
                    message = state.message or "no message"
                    abandoned = None if expired else f"the run ended {state.name} before a decision ({message})"
                if abandoned:
                    why, key = f"abandoned: {abandoned}", f"{asked.flow_run_id}:ended"
                    ledger.decide(asked.about, DecisionKind.ABANDONED, "watcher", "watcher", why, idempotency_key=key)
                    recorded.append(asked.flow_run_id)
                    continue
                hours = config.environments[environment].approval_timeout_hours
                reason = f"rejected: timeout (no decision within {hours:g} h)"
                ledger.decide(
                    asked.about, DecisionKind.EXPIRED, "timeout", "timeout", reason,
                    idempotency_key=f"{asked.flow_run_id}:expired",
                )  # fmt: skip
                if slack is not None:
                    candidate = Candidate(config.project, environment, asked.version, asked.sha, "", "", ())
                    slack.post(messages.decided(candidate, "expired", "timeout", "timeout", reason))
                recorded.append(asked.flow_run_id)
    return recorded


def sweep_once(config: PipelineConfig) -> list[str]:
    """One watcher pass with the ledger and Slack of this machine (the relay's background process, the CLI)."""
    from tasks.slack import slack_notifier

    with opened() as resources:
        return sweep_expired(config, resources.ledger, slack_notifier(config))
