"""production-deploy end to end: a signed push to main → the relay → a real Prefect server and process worker →
checks → suspended for approval (no worker process held) → answers through the Prefect API, `shipyard approve` and
the Prefect UI → migrations on a real PostgreSQL → blue-green on the local backend. The ledger, the Slack stand-in
and the GitHub stand-in must each tell the whole story. (Rollbacks, rejections and expiry:
test_production_rollback.py, on a stack of its own.)"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.client.schemas.objects import StateType

from shipyard.config import load_config
from shipyard.home import Home
from shipyard.ledger import DecisionKind, EventKind
from shipyard.release.setup import local_backend
from tests.e2e.production_stack import Stack, processes_of, production_stack
from tests.support.prefect_ui import answer_approval_form

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(
    shipyard_env: dict[str, str], postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with production_stack("production-deploy", shipyard_env, postgres_server, tmp_path_factory) as stack:
        yield stack


def test_prefect_deploy_registers_the_five_deployments_and_the_nightly_cron_in_utc(stack: Stack) -> None:
    prefect = str(Path(sys.executable).parent / "prefect")
    wide = dict(stack.env, COLUMNS="200")
    listed = subprocess.run([prefect, "deployment", "ls"], env=wide, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    for name in ("pr-checks", "staging-deploy", "production-deploy", "nightly", "rollback"):
        assert f"{name}/{name}" in listed.stdout, listed.stdout
    nightly = stack.client.read_deployment_by_name("nightly/nightly")
    ((schedule),) = [s.schedule for s in nightly.schedules]
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "UTC")  # type: ignore[union-attr]
    assert nightly.parameters == {"repo": str(stack.repo), "branch": "main"}
    # the pools start the engine directly (deployments/pools.py): no workspace supervisor importing Prefect first
    pool = stack.client.read_work_pool("shipyard-deploy")
    command = pool.base_job_template["variables"]["properties"]["command"]["default"]
    assert command == f"{sys.executable} -m prefect.engine"


def test_a_push_to_staging_deploys_without_approval(stack: Stack) -> None:
    sha = stack.commit("Staging 1")
    run_id = stack.push(sha, branch="staging")
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.PAUSED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    current = ledger.current("staging", "api")
    assert current is not None and current.sha == sha
    assert ledger.decisions("staging") == []  # no gate
    backend = local_backend(load_config(stack.repo / "shipyard.yaml"), "staging", Home(stack.home))
    assert httpx.get(backend.router_url("api") + "/health", timeout=5).json() == {"status": "ok"}
    texts = [t for t in stack.slack.texts() if "to staging" in t]
    assert texts[0].startswith(":rocket: staging-deploy started") and texts[-1].startswith(
        ":white_check_mark: Deployed"
    )


def test_push_to_main_waits_for_an_approver_then_deploys_blue_green(stack: Stack) -> None:
    sha, run_id = stack.at_gate("Release 1")
    deadline = time.monotonic() + 30
    while processes_of(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of(run_id) == [], "a suspended run must not hold a worker process"

    stack.resume(run_id, decision="approve", approver="alice", reason="ship it")  # a typed name proves nothing
    stack.wait_for_gate(run_id, "approval-2")  # recorded as unverified: waits again
    stack.signed(run_id, "mallory", "ship it")  # a key the policy does not list
    stack.wait_for_gate(run_id, "approval-3")
    dana = stack.code(run_id, "dana", "lgtm")  # the change's author, with her own code, under another's name
    stack.resume(run_id, decision="approve", approver="bob", reason="lgtm", code=dana)
    stack.wait_for_gate(run_id, "approval-4")
    stack.signed(run_id, "dana", "my own change")  # her own key: she made this change (git identity in the policy)
    stack.wait_for_gate(run_id, "approval-5")
    code = stack.code(run_id, "alice", "reviewed", "--ticket", "CHG-1")
    stack.resume(run_id, decision="approve", approver="alice", reason="reviewed", change_ticket="CHG-1", code=code)
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state

    ledger = stack.ledger()
    decisions = [(d.kind, d.actor, d.via, d.reason) for d in ledger.decisions("production", str(run_id))]
    assert [d[:3] for d in decisions] == [
        (DecisionKind.REQUESTED, "pipeline", "pipeline"),
        (DecisionKind.UNVERIFIED, "alice", "ui"),
        (DecisionKind.REFUSED, "(unknown key)", "ssh"),
        (DecisionKind.REFUSED, "bob", "code"),
        (DecisionKind.REFUSED, "dana", "ssh"),
        (DecisionKind.APPROVED, "alice", "code"),
        (DecisionKind.RELEASING, "pipeline", "pipeline"),
    ]
    assert decisions[2][3].startswith("signature refused: ")
    assert decisions[3][3] == "one-time code refused: issued for another run or approver"
    assert decisions[4][3] == "dana made this change (dana@example.com) and may not approve it"
    inputs = stack.client.filter_flow_run_input(run_id, key_prefix="", limit=100, exclude_keys=set())
    assert all(code not in i.value and dana not in i.value for i in inputs), "a code stayed readable in an input"
    current = ledger.current("production", "api")
    assert current is not None and current.sha == sha and current.schema_revision not in (None, "base")
    kinds = [e.kind for e in ledger.events(current.id)]
    assert EventKind.PROMOTED in kinds and EventKind.SMOKE_PASSED in kinds
    assert [e.weight for e in ledger.events(current.id) if e.kind is EventKind.SHIFTED] == [
        100
    ]  # nothing to share with

    backend = local_backend(load_config(stack.repo / "shipyard.yaml"), "production", Home(stack.home))
    assert httpx.get(backend.router_url("api") + "/health", timeout=5).json() == {"status": "ok"}
    assert backend.weights("api")[current.colour] == 100

    texts = [t for t in stack.slack.texts() if "to production" in t]
    assert texts[0].startswith(":rocket: production-deploy started: sample-platform")
    assert texts[1].startswith(":hourglass: Approval needed")
    assert ": unverified by alice" in texts[2] and ": refused by (unknown key)" in texts[3]
    assert ": refused by bob" in texts[4] and ": refused by dana" in texts[5]
    assert ": approved by alice" in texts[6]
    assert texts[7].startswith(":white_check_mark: Deployed sample-platform")
    assert len(texts) == 8, texts  # each once, although the run re-ran from the top five times
    assert stack.slack.errors == []

    assert stack.github.contexts(sha)["shipyard/pr-checks"] == ["pending", "success"]
    (deployment,) = [d for d in stack.github.deployments if d["ref"] == sha]
    assert deployment["environment"] == "production"
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "success"]


def test_an_approval_from_the_terminal_with_its_own_traffic_plan(stack: Stack) -> None:
    previous = stack.ledger().current("production", "api")
    assert previous is not None, "runs after the first deploy"
    sha, run_id = stack.at_gate("Release 2")
    stack.signed(run_id, "bob", "canary first", "--ticket", "CHG-2", "--steps", "25,100")
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    (approved,) = [d for d in ledger.decisions("production", str(run_id)) if d.kind is DecisionKind.APPROVED]
    assert (approved.actor, approved.via, approved.ticket) == ("bob", "ssh", "CHG-2")
    current = ledger.current("production", "api")
    assert current is not None and current.sha == sha and current.colour != previous.colour
    assert [e.weight for e in ledger.events(current.id) if e.kind is EventKind.SHIFTED] == [25, 100]
    assert ledger.previous_stable("production", "api") == previous
    assert any(e.kind is EventKind.SCALED_DOWN for e in ledger.events(previous.id))


def test_an_approval_clicked_in_the_prefect_ui_in_headless_chromium(stack: Stack, tmp_path: Path) -> None:
    previous = stack.ledger().current("production", "api")
    sha, run_id = stack.at_gate("Release 3")
    fields = {"Approver": "alice", "Reason": "read the checks in the UI", "Change Ticket": "CHG-3"}
    answer_approval_form(stack.env["PREFECT_UI_URL"], str(run_id), fields, tmp_path)  # no code
    stack.wait_for_gate(run_id, "approval-2")
    assert stack.ledger().decisions("production", str(run_id))[-1].kind is DecisionKind.UNVERIFIED
    fields |= {"Code": stack.code(run_id, "alice", "read the checks in the UI", "--ticket", "CHG-3")}
    answer_approval_form(stack.env["PREFECT_UI_URL"], str(run_id), fields, tmp_path)
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    last = ledger.decisions("production", str(run_id))[-2]  # the approval, before "releasing"
    assert (last.kind, last.actor, last.via, last.reason, last.ticket) == (
        DecisionKind.APPROVED, "alice", "code", "read the checks in the UI", "CHG-3",
    )  # fmt: skip
    current = ledger.current("production", "api")
    assert current is not None and current.sha == sha and previous is not None and current.id != previous.id
    assert [e.weight for e in ledger.events(current.id) if e.kind is EventKind.SHIFTED] == [50, 100]


def test_an_older_release_approved_after_a_newer_one_is_superseded(stack: Stack) -> None:
    serving = stack.ledger().current("production", "api")
    older, older_run = stack.at_gate("Release 5a")
    _newer, newer_run = stack.at_gate("Release 5b")
    stack.signed(newer_run, "bob", "not this one", "--reject")
    stack.wait(newer_run, StateType.FAILED)
    rejected_newer_does_not_count = stack.ledger().decisions("production", str(older_run))
    assert [d.kind for d in rejected_newer_does_not_count] == [DecisionKind.REQUESTED]
    newest, newest_run = stack.at_gate("Release 5c")
    stack.signed(newest_run, "bob", "the fix")
    stack.wait(newest_run, StateType.COMPLETED)
    stack.signed(older_run, "alice", "late approval")
    run = stack.wait(older_run, StateType.CANCELLED, StateType.COMPLETED, StateType.FAILED)
    assert run.state is not None and run.state.type is StateType.CANCELLED, run.state
    assert run.state.message is not None and run.state.message.startswith("superseded by ")
    ledger = stack.ledger()
    assert [d.kind for d in ledger.decisions("production", str(older_run))][-1] is DecisionKind.SUPERSEDED
    current = ledger.current("production", "api")
    assert current is not None and current.sha == newest and serving is not None
    assert all(r.sha != older for r in ledger.stable_stack("production", "api"))
    assert any(t.endswith("superseded") for t in stack.slack.texts())
