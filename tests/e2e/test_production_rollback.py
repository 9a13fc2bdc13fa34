"""production-deploy when things go wrong, end to end on a stack of its own (see production_stack.py): two
approvals racing, a release failing its smoke tests, the rollback deployment, failing checks, a rejection and an
approval nobody gives in time. Each leaves the previous release serving and the ledger, Slack and GitHub saying why."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from prefect.client.schemas.objects import FlowRun, StateType

from shipyard.config import load_config
from shipyard.home import Home
from shipyard.ledger import DecisionKind, EventKind
from shipyard.release.setup import local_backend
from tests.e2e.production_stack import Stack, production_stack, shipyard

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(
    shipyard_env: dict[str, str], postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack already serving a first release: the tests here are about what happens to the one serving."""
    with production_stack("production-rollback", shipyard_env, postgres_server, tmp_path_factory) as stack:
        _sha, run_id = stack.at_gate("Release 1")
        stack.signed(run_id, "alice", "the first release")
        run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
        assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
        yield stack


def test_two_approved_releases_cut_over_one_at_a_time_in_the_order_they_asked(stack: Stack) -> None:
    older, older_run = stack.at_gate("Release 4a")
    newer, newer_run = stack.at_gate("Release 4b")
    stack.signed(older_run, "alice", "first")
    deadline = time.monotonic() + 120
    while not any(r.sha == older for r in stack.releases()) and time.monotonic() < deadline:
        time.sleep(0.2)
    stack.signed(newer_run, "bob", "second")  # while the older one cuts over
    for run_id in (older_run, newer_run):
        run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
        assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    events = ledger.recent_events("production", "api", limit=200)[::-1]
    releases = {r.sha: r for r in (ledger.release(e.release_id) for e in events)}
    first, second = releases[older].id, releases[newer].id
    (second_started,) = [e.id for e in events if e.release_id == second and e.kind is EventKind.STARTED]
    (first_promoted,) = [e.id for e in events if e.release_id == first and e.kind is EventKind.PROMOTED]
    # the older cutover's last step scales its predecessor down; the newer one starts only after that
    first_done = max(e.id for e in events if e.kind is EventKind.SCALED_DOWN and e.release_id not in (first, second))
    assert first_promoted < first_done < second_started, "the cutovers interleaved"
    current = ledger.current("production", "api")
    assert current is not None and current.sha == newer


def test_a_release_failing_its_smoke_tests_rolls_back_and_the_previous_one_keeps_serving(stack: Stack) -> None:
    before = stack.ledger().current("production", "api")
    main = stack.repo / "apps" / "api" / "api" / "main.py"
    healthy = main.read_text()
    main.write_text(healthy.replace('return {"status": "ok"}', 'return {"status": "degraded"}'))
    sha = stack.commit("Release 5d: /health says degraded")
    main.write_text(healthy)
    run_id = stack.push(sha)
    stack.wait_for_gate(run_id, "approval-1")
    stack.signed(run_id, "alice", "looks fine")
    run = stack.wait(run_id, StateType.FAILED, StateType.COMPLETED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED, run.state
    assert (run.state.message or "").startswith("rolled back: api:") and "smoke" in (run.state.message or "")
    ledger = stack.ledger()
    assert ledger.current("production", "api") == before
    backend = local_backend(load_config(stack.repo / "shipyard.yaml"), "production", Home(stack.home))
    assert httpx.get(backend.router_url("api") + "/health", timeout=5).json() == {"status": "ok"}
    assert any(t.startswith(":rotating_light: api rolled back in production") for t in stack.slack.texts())
    (deployment,) = [d for d in stack.github.deployments if d["ref"] == sha]
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "failure"]


def sign(stack: Stack, name: str, command: str, reason: str) -> dict[str, object]:
    """`shipyard rollout sign`: what an operator pastes into the deployment's `signed` parameter."""
    signed = shipyard(stack, "rollout", "sign", command, "production", "--app", "api", "--reason", reason, "--key",
                      str(stack.keys[name]))  # fmt: skip
    assert signed.returncode == 0, signed.stdout + signed.stderr
    document: dict[str, object] = json.loads(signed.stdout)
    return document


def run(stack: Stack, deployment: str, signed: dict[str, object]) -> FlowRun:
    """What the Prefect UI or any API user can do: run the deployment with any parameters."""
    found = stack.client.read_deployment_by_name(deployment)
    started = stack.client.create_flow_run_from_deployment(found.id, parameters={"signed": signed})
    return stack.wait(started.id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)


def failed_with(final: FlowRun, text: str) -> bool:
    return final.state is not None and final.state.type is StateType.FAILED and text in (final.state.message or "")


def test_the_rollback_deployment_puts_the_previous_stable_release_back_for_a_signed_approver_only(
    stack: Stack,
) -> None:
    ledger = stack.ledger()
    current, previous = ledger.current("production", "api"), ledger.previous_stable("production", "api")
    assert current is not None and previous is not None

    # a Prefect API user who is no approver, one who rewrites an approver's reason: refused, nothing moves
    assert failed_with(run(stack, "rollback/rollback", sign(stack, "mallory", "rollback", "mine")), "signature refused")
    rewritten = sign(stack, "dana", "rollback", "error budget burning") | {"reason": "routine"}
    assert failed_with(run(stack, "rollback/rollback", rewritten), "signature refused")
    assert stack.ledger().current("production", "api") == current

    signed = sign(stack, "dana", "rollback", "error budget burning")
    final = run(stack, "rollback/rollback", signed)
    assert final.state is not None and final.state.type is StateType.COMPLETED, final.state
    restored = stack.ledger().current("production", "api")
    assert restored is not None and restored.id == previous.id
    rolled = [e for e in stack.ledger().events(current.id) if e.kind is EventKind.ROLLED_BACK]
    assert rolled and rolled[-1].actor == "dana" and rolled[-1].reason.startswith("error budget burning")
    assert any(t.startswith(f":rewind: api in production: {previous.version} is back") for t in stack.slack.texts())

    # the same signed rollback again (replayed from the run's parameters, a second click): it was for the release
    # that is gone now, so refused, not a second step back
    assert failed_with(run(stack, "rollback/rollback", signed), f"was signed for release #{current.id}")
    assert stack.ledger().current("production", "api") == restored


def test_the_rollout_command_deployment_verifies_who_gives_a_command(stack: Stack) -> None:
    before = stack.ledger().recent_events("production", "api", limit=500)
    assert failed_with(run(stack, "rollout-command/rollout-command", sign(stack, "mallory", "abort", "mine")),
                       "signature refused")  # fmt: skip
    signed = sign(stack, "dana", "abort", "checking")
    final = run(stack, "rollout-command/rollout-command", signed)
    assert failed_with(final, "no release of api is in progress in production: nothing to abort")
    assert failed_with(run(stack, "rollout-command/rollout-command", signed), "this signed command was used before")
    assert stack.ledger().recent_events("production", "api", limit=500) == before  # nothing recorded any time


def test_a_commit_failing_its_checks_never_asks_for_approval_and_slack_hears_why(stack: Stack) -> None:
    main = stack.repo / "apps" / "api" / "api" / "main.py"
    clean = main.read_text()
    main.write_text("import os  # unused: ruff fails\n" + clean)
    sha = stack.commit("Release 5e: lint error")
    main.write_text(clean)
    run_id = stack.push(sha)
    run = stack.wait(run_id, StateType.FAILED, StateType.COMPLETED, StateType.CRASHED, StateType.PAUSED)
    assert run.state is not None and run.state.type is StateType.FAILED, run.state
    assert stack.ledger().decisions("production", str(run_id)) == []
    (text,) = [t for t in stack.slack.texts() if sha[:12] in t]
    assert text == f":x: sample-platform ({sha[:12]}) to production failed"
    blocks = str([m["blocks"] for m in stack.slack.messages if m["text"] == text])
    assert "checks did not pass" in blocks and "api/lint/python3.11" in blocks


def test_a_rejection_from_the_terminal_ends_the_run_and_deploys_nothing(stack: Stack) -> None:
    before = stack.ledger().current("production", "api")
    _sha, run_id = stack.at_gate("Release 6")
    cli = stack.approve(run_id, "bob", "--reject", "--reason", "freeze week")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    run = stack.wait(run_id, StateType.FAILED, StateType.COMPLETED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert run.state.message == "rejected: freeze week"
    ledger = stack.ledger()
    assert [(d.kind, d.actor, d.via) for d in ledger.decisions("production", str(run_id))][-1] == (
        DecisionKind.REJECTED, "bob", "ssh",
    )  # fmt: skip
    assert ledger.current("production", "api") == before
    assert any(": rejected by bob" in t for t in stack.slack.texts())


def test_an_approval_nobody_gives_in_time_is_recorded_as_expired(stack: Stack) -> None:
    with stack.policy("a short timeout", approval_timeout_hours=0.003):  # about 11 seconds
        sha = stack.commit("Release 7")
        run_id = stack.push(sha)
        stack.wait_for_gate(run_id, "approval-1")
        run = stack.wait(run_id, StateType.FAILED, timeout=120)
    assert run.state is not None and "never resumed" in (run.state.message or "")
    deadline = time.monotonic() + 30  # the relay's watcher runs every 2 s here; it records, then tells Slack
    while time.monotonic() < deadline:
        last = stack.ledger().decisions("production", str(run_id))[-1]
        told = any("expired by timeout" in t for t in stack.slack.texts())
        if last.kind is DecisionKind.EXPIRED and told:
            break
        time.sleep(0.5)
    assert (last.kind, last.via) == (DecisionKind.EXPIRED, "timeout")
    assert last.reason.startswith("rejected: timeout")
    assert told, stack.slack.texts()
    late = stack.approve(run_id, "alice", "--reason", "sorry, late")
    assert late.returncode == 2 and "is not waiting for an approval (it is Failed)" in late.stderr
