"""The policy and the gate against the attacks of a pusher to a non-protected branch and of a Prefect API user, end
to end on a stack of its own (see production_stack.py): the policy's environment wins over the repository's file, a
deploy the policy does not allow stops before any work, what ships is what was approved, and N distinct verified
approvers with one-time codes bound to their run that expire."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import StateType

from shipyard.ledger import DecisionKind
from shipyard.release.artifact import folder_digest
from shipyard.sample import commit_all
from tests.e2e.production_stack import Stack, production_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(
    shipyard_env: dict[str, str], postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with production_stack("policy-gate", shipyard_env, postgres_server, tmp_path_factory) as stack:
        yield stack


def start(stack: Stack, deployment: str, **parameters: Any) -> UUID:
    found = stack.client.read_deployment_by_name(f"{deployment}/{deployment}")
    run = stack.client.create_flow_run_from_deployment(found.id, parameters={"repo": str(stack.repo)} | parameters)
    return run.id


def logs(stack: Stack, run_id: UUID) -> str:
    found = stack.client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
    return "\n".join(log.message for log in found)


def test_a_push_to_staging_cannot_point_staging_at_productions_target(stack: Stack) -> None:
    text = stack.config().replace(f"router: {stack.ports['s_router']}", f"router: {stack.ports['router']}")
    (stack.repo / "shipyard.yaml").write_text(text)
    sha = commit_all(stack.repo, "staging: point at production")
    run_id = stack.push(sha, branch="staging")
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    said = logs(stack, run_id)
    assert "the policy wins: environments.staging.target: the repository's shipyard.yaml sets" in said, said
    staging = httpx.get(f"http://127.0.0.1:{stack.ports['s_router']}/health", timeout=5)
    assert staging.json() == {"status": "ok"}  # released where the policy says staging is
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{stack.ports['router']}/health", timeout=2)  # production untouched


@pytest.mark.parametrize(
    ("deployment", "branch", "environment", "refusal"),
    [
        ("staging-deploy", "main", "production", "the policy's production requires approval"),
        ("production-deploy", "feature/x", "production", "branch 'feature/x' may not deploy to production"),
        ("staging-deploy", "staging", "qa", "environment 'qa' is not in the policy"),
    ],
)
def test_a_deploy_the_policy_does_not_allow_stops_before_any_work(
    stack: Stack, deployment: str, branch: str, environment: str, refusal: str
) -> None:
    sha = stack.commit(f"refused: {deployment} {branch} {environment}")
    run_id = start(stack, deployment, sha=sha, branch=branch, environment=environment)
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED and refusal in (run.state.message or "")
    only = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    assert stack.client.read_task_runs(flow_run_filter=only) == []  # no checkout, no checks


def test_a_commit_not_on_the_branch_it_claims_is_not_deployed(stack: Stack) -> None:
    sha = stack.commit("only on a feature branch")
    git(stack, "branch", "-f", "feature/sneaky", sha)
    git(stack, "branch", "-f", "staging", f"{sha}~1")  # staging stays behind the commit
    run_id = start(stack, "staging-deploy", sha=sha, branch="staging", environment="staging")
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert f"commit {sha[:12]} is not on branch 'staging'" in (run.state.message or ""), run.state.message


def test_the_author_behind_a_forged_commit_identity_may_not_approve_it(stack: Stack) -> None:
    """dana writes her commit as someone else (the author field is free text) and opens the pull request that
    brings it in; GitHub knows the pull request is hers, and her signed approval is refused."""
    sha = stack.commit("Release S", author="Someone Else <someone@example.com>")
    stack.github.commits[sha] = {"author": None, "committer": "web-flow"}  # no account has that email
    stack.github.pulls[sha] = [{"number": 7, "user": "dana-gh", "merged_by": "bob-gh"}]
    run_id = stack.push(sha)
    stack.wait_for_gate(run_id, "approval-1")
    stack.signed(run_id, "dana", "mine, but under another name")
    stack.wait_for_gate(run_id, "approval-2")
    stack.signed(run_id, "bob", "I merged it")  # the merger made the change too: refused as well
    stack.wait_for_gate(run_id, "approval-3")
    stack.signed(run_id, "alice", "reviewed", "--reject")
    stack.wait(run_id, StateType.FAILED)
    reasons = [d.reason for d in stack.ledger().decisions("production", str(run_id))][1:3]
    assert reasons == [
        "dana made this change (@dana-gh) and may not approve it",
        "bob made this change (@bob-gh) and may not approve it",
    ]


def test_replacing_the_prepared_record_after_approval_deploys_nothing(stack: Stack, tmp_path: Path) -> None:
    serving = stack.ledger().current("production", "api")
    _sha, run_id = stack.at_gate("Release P")
    asked = _input(stack, run_id, "shipyard-request")  # what `shipyard approve` shows and signs over
    forged = asked | {"artifacts": {"api": "sha256:" + "e" * 64}}
    _replace(stack, run_id, "shipyard-request", forged)
    stack.signed(run_id, "alice", "looks fine")  # a signature over other digests than the ledger recorded
    stack.wait_for_gate(run_id, "approval-2")
    refused = stack.ledger().decisions("production", str(run_id))[-1]
    assert (refused.kind, refused.via) == (DecisionKind.REFUSED, "ssh") and "signature refused" in refused.reason
    _replace(stack, run_id, "shipyard-request", asked)

    prepared = _input(stack, run_id, "shipyard-prepared")
    theirs = tmp_path / "theirs"  # the attacker's release folder: what was approved plus their file
    shutil.copytree(prepared["folders"]["api"]["path"], theirs, symlinks=True)
    (theirs / "backdoor.py").write_text("print('owned')\n")
    prepared["artifacts"]["api"] = str(theirs)
    prepared["digests"]["api"] = folder_digest(theirs)  # consistent with itself, not with the ledger
    _replace(stack, run_id, "shipyard-prepared", prepared)

    stack.signed(run_id, "alice", "looks fine")  # over the digests the ledger recorded
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED, run.state
    ledger = stack.ledger()
    kinds = [d.kind for d in ledger.decisions("production", str(run_id))]
    assert kinds[-2:] == [DecisionKind.APPROVED, DecisionKind.MISMATCH], kinds
    assert "api: artifact digest" in ledger.decisions("production", str(run_id))[-1].reason
    assert ledger.current("production", "api") == serving  # nothing deployed


def test_two_distinct_verified_approvers_with_codes_bound_to_their_run(stack: Stack) -> None:
    with stack.policy("two approvers, short codes", required_approvals=2, approval_code_minutes=0.05):  # 3 s codes
        _sha, run_id = stack.at_gate("Release Q")
        _other, other_run = stack.at_gate("Release R")
        for_other = stack.code(other_run, "alice", "ok")
        stack.resume(run_id, decision="approve", approver="alice", reason="ok", code=for_other)
        stack.wait_for_gate(run_id, "approval-2")  # a code for another run
        late = stack.code(run_id, "alice", "ok")
        time.sleep(4)
        stack.resume(run_id, decision="approve", approver="alice", reason="ok", code=late)
        stack.wait_for_gate(run_id, "approval-3")  # expired
        stack.signed(run_id, "bob", "first look")
        stack.wait_for_gate(run_id, "approval-4")
        description = _input(stack, run_id, "suspended-approval-4-description")
        assert "**1 of 2 approvals (bob).**" in description
        stack.signed(run_id, "bob", "me again")
        stack.wait_for_gate(run_id, "approval-5")
        stack.signed(run_id, "alice", "second look")
        run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
        assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
        stack.signed(other_run, "bob", "not this one", "--reject")
        stack.wait(other_run, StateType.FAILED)
    decisions = [(d.kind, d.actor, d.via, d.reason) for d in stack.ledger().decisions("production", str(run_id))]
    assert decisions[1:] == [
        (DecisionKind.REFUSED, "alice", "code", "one-time code refused: issued for another run or approver"),
        (DecisionKind.REFUSED, "alice", "code", "one-time code refused: expired"),
        (DecisionKind.ENDORSED, "bob", "ssh", "1 of 2 approvals (bob): first look"),
        (DecisionKind.REFUSED, "bob", "ssh", "bob already approved this run; the next approval must be someone else's"),
        (DecisionKind.APPROVED, "alice", "ssh", "second look"),
        (DecisionKind.RELEASING, "pipeline", "pipeline", "second look"),
    ]
    assert any("1 of 2 approvals (bob)" in t for t in stack.slack.texts())


def _input(stack: Stack, run_id: UUID, key: str) -> Any:
    return json.loads(stack.client.read_flow_run_input(run_id, key))


def _replace(stack: Stack, run_id: UUID, key: str, value: Any) -> None:
    """What any Prefect API user can do to a run's inputs."""
    stack.client.delete_flow_run_input(run_id, key)
    stack.client.create_flow_run_input(run_id, key, json.dumps(value))


def git(stack: Stack, *args: str) -> None:
    subprocess.run(["git", "-C", str(stack.repo), *args], check=True, capture_output=True)
