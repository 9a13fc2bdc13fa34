"""The approval watcher against a real Prefect server: a run that ended without a decision is recorded once, then
never read again."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelled, Paused

from deployments.approvals import sweep_expired
from deployments.local_server import LocalServer
from shipyard.config import load_config
from shipyard.ledger import Asked, DecisionKind, Ledger

pytestmark = pytest.mark.slow
CONFIG = load_config(Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml")


@flow(name="watcher-test")
def waiting() -> None:  # never run: the test sets the run's states itself
    pass


def test_a_run_cancelled_at_its_gate_is_recorded_abandoned_once_and_not_read_again(
    prefect_server: LocalServer, ledger: Ledger
) -> None:
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        cancelled = client.create_flow_run(waiting, state=Paused(pause_key="approval-1"))
        still_waiting = client.create_flow_run(waiting, state=Paused(pause_key="approval-1"))
        gone = client.create_flow_run(waiting, state=Paused(pause_key="approval-1"))
        for run in (cancelled, still_waiting, gone):
            about = Asked("production", str(run.id), "9f" * 20, "1.4.2")
            ledger.decide(about, DecisionKind.REQUESTED, "engine", "gate", idempotency_key=f"{run.id}:asked")
        client.set_flow_run_state(cancelled.id, Cancelled(message="cancelled from the UI"), force=True)
        client.delete_flow_run(gone.id)

        assert sorted(sweep_expired(CONFIG, ledger, None)) == sorted([str(cancelled.id), str(gone.id)])
        decisions = {d.flow_run_id: d for d in ledger.decisions("production") if d.kind is DecisionKind.ABANDONED}
        assert decisions[str(cancelled.id)].reason == (
            "abandoned: the run ended Cancelled before a decision (cancelled from the UI)"
        )
        assert decisions[str(gone.id)].reason == "abandoned: the flow run is not on the Prefect server any more"

        client.delete_flow_run(cancelled.id)  # were it read again, it would now be "gone" and recorded twice
        assert sweep_expired(CONFIG, ledger, None) == []
        kinds = [d.kind for d in ledger.decisions("production") if d.flow_run_id == str(cancelled.id)]
        assert kinds.count(DecisionKind.ABANDONED) == 1
        assert str(still_waiting.id) not in decisions  # paused: the watcher leaves it waiting
