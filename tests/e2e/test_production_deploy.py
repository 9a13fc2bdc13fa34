"""production-deploy end to end: a signed push to main → the relay → a real Prefect server and process worker →
checks → suspended for approval (no worker process held) → answers through the Prefect API and `shipyard approve`
→ migrations on a real PostgreSQL → blue-green on the local backend. The ledger, the Slack stand-in and the GitHub
stand-in must each tell the whole story."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectAlreadyExists

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import DecisionKind, EventKind, Ledger, ReleaseView
from shipyard.release.setup import local_backend
from shipyard.runner import spawn, stop
from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require_tools
from tests.deployments.test_webhook_relay import delivery, push
from tests.support.github_standin import GitHubStandIn, github_standin
from tests.support.prefect_ui import answer_approval_form
from tests.support.slack_standin import SlackStandIn, slack_standin

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
GITHUB_TOKEN = "ghp_e2e_token_0123456789"
SLACK_TOKEN = "xoxb-e2e-slack-token"
SECRET = "e2e-webhook-secret"

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
CONFIG = """\
version: 1
project: sample-platform
apps:
  api:
    path: apps/api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks: {{lint: ruff check .}}
    migrations: {{config: alembic.ini, url_env: DATABASE_URL}}
    serve:
      command: uvicorn api.main:create_app --factory --host 127.0.0.1 --port {{port}}
      smoke:
        - {{path: /health, json_field: status, equals: ok}}
environments:
  production:
    target:
      backend: local
      ports: {{api: {{router: {router}, blue: {blue}, green: {green}}}}}
    rollout: {{max_p95_ms: 10000, steps: [50, 100], pause_seconds: 1, min_samples: 5, scale_down_delay_seconds: 1}}
    approval: true
    approvers: [alice, bob, dana]
    approval_timeout_hours: {timeout}
    database_url_env: PROD_DATABASE_URL
  staging:
    target:
      backend: local
      ports: {{api: {{router: {s_router}, blue: {s_blue}, green: {s_green}}}}}
    rollout: {{max_p95_ms: 10000, steps: [100], pause_seconds: 0, min_samples: 1, scale_down_delay_seconds: 1}}
branches:
  - {{branch: main, environment: production, required: [quality]}}
  - {{branch: staging, environment: staging, required: [quality]}}
github: {{repository: example/sample-platform, api_url: "{github}", token_env: GITHUB_TOKEN}}
notifications:
  slack: {{channel: "#deployments", api_url: "{slack}", token_env: SLACK_BOT_TOKEN}}
"""


@dataclass
class Stack:
    env: dict[str, str]
    repo: Path
    relay: str
    github: GitHubStandIn
    slack: SlackStandIn
    ports: dict[str, int]
    home: Path
    log: Path

    def config(self, timeout_hours: float = 24) -> str:
        return CONFIG.format(timeout=timeout_hours, github=self.github.url, slack=self.slack.api_url, **self.ports)

    def commit(self, message: str, timeout_hours: float = 24) -> str:
        (self.repo / "shipyard.yaml").write_text(self.config(timeout_hours))
        (self.repo / "CHANGELOG.md").write_text(message + "\n")
        return commit_all(self.repo, message)

    def push(self, sha: str, branch: str = "main") -> UUID:
        body = push(branch, sha) | {"repository": {"clone_url": str(self.repo), "full_name": "example/sample-platform"}}
        answer = httpx.post(self.relay + "/github", **delivery("push", body, f"e2e-{sha[:12]}", SECRET.encode()))
        assert answer.status_code == 202, answer.text
        return self.run_for(sha, f"{'production' if branch == 'main' else 'staging'}-deploy")

    def run_for(self, sha: str, deployment: str, timeout: float = 60) -> UUID:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with SyncPrefectClient(self.env["PREFECT_API_URL"]) as client:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
                )
            for run in runs:
                if run.parameters.get("sha") == sha:
                    return run.id
            time.sleep(0.5)
        raise AssertionError(f"no {deployment} run for {sha}; worker log:\n{self.log.read_text()[-3000:]}")

    def wait(self, run_id: UUID, *types: StateType, timeout: float = 600) -> FlowRun:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with SyncPrefectClient(self.env["PREFECT_API_URL"]) as client:
                run = client.read_flow_run(run_id)
            if run.state is not None and run.state.type in types:
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} is {run.state!r}, not {types}; worker log:\n{self.log.read_text()[-4000:]}")

    def at_gate(self, message: str, timeout_hours: float = 24) -> tuple[str, UUID]:
        """A commit pushed to main, its production-deploy run waiting at its first approval gate."""
        sha = self.commit(message, timeout_hours)
        run_id = self.push(sha)
        self.wait_for_gate(run_id, "approval-1")
        return sha, run_id

    def wait_for_gate(self, run_id: UUID, key: str, timeout: float = 600) -> None:
        """Until the run is suspended at this approval gate ('approval-1', then -2 after a refusal...)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.wait(run_id, StateType.PAUSED, timeout=max(1, deadline - time.monotonic()))
            assert run.state is not None
            if run.state.state_details.pause_key == key:
                return
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} never waited at {key}")

    def resume(self, run_id: UUID, **form: object) -> None:
        """What the UI's form does: the Prefect API's resume with the run input."""
        with SyncPrefectClient(self.env["PREFECT_API_URL"]) as client:
            result = client.resume_flow_run(run_id, run_input=form)
        assert result.status.value == "ACCEPT", result.details

    def releases(self) -> list[ReleaseView]:
        ledger = self.ledger()
        return [ledger.release(e.release_id) for e in ledger.recent_events("production", "api", limit=50)]

    def ledger(self) -> Ledger:
        ledger = Ledger(f"sqlite:///{self.home / 'ledger.db'}")
        ledger.migrate()  # a test run on its own may read before any flow wrote
        return ledger


def processes_of(run_id: UUID) -> list[int]:
    """Processes whose environment says they execute this flow run (a worker's child does)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if f"PREFECT__FLOW_RUN_ID={run_id}".encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def stack(
    shipyard_env: dict[str, str], postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    require_tools("haproxy")
    base = tmp_path_factory.mktemp("production-deploy")
    database = "production_e2e"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    home = base / "home"
    env = dict(
        shipyard_env,
        SHIPYARD_HOME=str(home),
        SHIPYARD_SOURCE=str(ROOT),
        PYTHONPATH=str(ROOT),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_RESULTS_PERSIST_BY_DEFAULT="true",
        PREFECT_LOCAL_STORAGE_PATH=str(base / "results"),
        GITHUB_TOKEN=GITHUB_TOKEN,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        GITHUB_WEBHOOK_SECRET=SECRET,
        PROD_DATABASE_URL=postgres_server.rsplit("/", 1)[0] + f"/{database}",
        SHIPYARD_REPO=str(base / "repo"),  # the nightly deployment's repository parameter
    )
    env.pop("SHIPYARD_LEDGER_URL", None)
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="shipyard-process", type="process"))
    prefect = str(Path(sys.executable).parent / "prefect")
    registered = subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert registered.returncode == 0, registered.stdout + registered.stderr
    repo = base / "repo"
    create_sample_repo(repo)
    ports = {name: free_port() for name in ("router", "blue", "green", "s_router", "s_blue", "s_green")}
    log = base / "worker.log"
    with github_standin(GITHUB_TOKEN) as github, slack_standin(SLACK_TOKEN, {"#deployments"}) as slack:
        relay_config = base / "relay.yaml"
        relay_config.write_text(CONFIG.format(timeout=24, github=github.url, slack=slack.api_url, **ports))
        relay_port = free_port()
        worker = spawn([prefect, "worker", "start", "--pool", "shipyard-process", "--type", "process"],
                       env=env, cwd=ROOT, log=log)  # fmt: skip
        relay = spawn([sys.executable, "-m", "cli", "webhook", "serve", "--config", str(relay_config),
                       "--port", str(relay_port), "--watch-seconds", "2"], env=env, cwd=ROOT, log=log)  # fmt: skip
        url = f"http://127.0.0.1:{relay_port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        stack = Stack(env, repo, url, github, slack, ports, home, log)
        try:
            yield stack
        finally:
            for process, name in ((relay, "webhook relay"), (worker, "prefect worker")):
                print(stop(process, name))
            for environment in ("production", "staging"):
                local_backend(load_config(relay_config), environment, Home(home)).shutdown("api")


def test_prefect_deploy_registers_the_five_deployments_and_the_nightly_cron_in_utc(stack: Stack) -> None:
    prefect = str(Path(sys.executable).parent / "prefect")
    wide = dict(stack.env, COLUMNS="200")
    listed = subprocess.run([prefect, "deployment", "ls"], env=wide, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    for name in ("pr-checks", "staging-deploy", "production-deploy", "nightly", "rollback"):
        assert f"{name}/{name}" in listed.stdout, listed.stdout
    with SyncPrefectClient(stack.env["PREFECT_API_URL"]) as client:
        nightly = client.read_deployment_by_name("nightly/nightly")
    ((schedule),) = [s.schedule for s in nightly.schedules]
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "UTC")  # type: ignore[union-attr]
    assert nightly.parameters == {"repo": str(stack.repo), "branch": "main"}


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

    stack.resume(run_id, decision="approve", approver="mallory", reason="ship it")
    stack.wait_for_gate(run_id, "approval-2")  # refused: waits again
    stack.resume(run_id, decision="approve", approver="dana", reason="my own change")
    stack.wait_for_gate(run_id, "approval-3")  # the author may not approve their own change
    stack.resume(run_id, decision="approve", approver="alice", reason="reviewed", change_ticket="CHG-1")
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state

    ledger = stack.ledger()
    decisions = [(d.kind, d.actor, d.via) for d in ledger.decisions("production", str(run_id))]
    assert decisions == [
        (DecisionKind.REQUESTED, "pipeline", "pipeline"),
        (DecisionKind.REFUSED, "mallory", "ui"),
        (DecisionKind.REFUSED, "dana", "ui"),
        (DecisionKind.APPROVED, "alice", "ui"),
    ]
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
    assert ": refused by mallory" in texts[2] and ": refused by dana" in texts[3]
    assert ": approved by alice" in texts[4]
    assert texts[5].startswith(":white_check_mark: Deployed sample-platform")
    assert len(texts) == 6, texts  # each once, although the run re-ran from the top three times
    assert stack.slack.errors == []

    assert stack.github.contexts(sha)["shipyard/pr-checks"] == ["pending", "success"]
    (deployment,) = [d for d in stack.github.deployments if d["ref"] == sha]
    assert deployment["environment"] == "production"
    assert [s["state"] for s in deployment["statuses"]] == ["in_progress", "success"]


def test_an_approval_from_the_terminal_with_its_own_traffic_plan(stack: Stack) -> None:
    previous = stack.ledger().current("production", "api")
    assert previous is not None, "runs after the first deploy"
    sha, run_id = stack.at_gate("Release 2")
    cli = approve(stack, run_id, "--as", "bob", "--reason", "canary first", "--ticket", "CHG-2", "--steps", "25,100")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    (approved,) = [d for d in ledger.decisions("production", str(run_id)) if d.kind is DecisionKind.APPROVED]
    assert (approved.actor, approved.via, approved.ticket) == ("bob", "cli", "CHG-2")
    current = ledger.current("production", "api")
    assert current is not None and current.sha == sha and current.colour != previous.colour
    assert [e.weight for e in ledger.events(current.id) if e.kind is EventKind.SHIFTED] == [25, 100]
    assert ledger.previous_stable("production", "api") == previous
    assert any(e.kind is EventKind.SCALED_DOWN for e in ledger.events(previous.id))


def approve(stack: Stack, run_id: UUID, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "approve", str(run_id), *args]
    return subprocess.run(command, env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_an_approval_clicked_in_the_prefect_ui_in_headless_chromium(stack: Stack, tmp_path: Path) -> None:
    previous = stack.ledger().current("production", "api")
    sha, run_id = stack.at_gate("Release 3")
    fields = {"Approver": "alice", "Reason": "read the checks in the UI", "Change Ticket": "CHG-3"}
    answer_approval_form(stack.env["PREFECT_UI_URL"], str(run_id), fields, tmp_path)
    run = stack.wait(run_id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.COMPLETED, run.state
    ledger = stack.ledger()
    last = ledger.decisions("production", str(run_id))[-1]
    assert (last.kind, last.actor, last.via, last.reason, last.ticket) == (
        DecisionKind.APPROVED, "alice", "ui", "read the checks in the UI", "CHG-3",
    )  # fmt: skip
    current = ledger.current("production", "api")
    assert current is not None and current.sha == sha and previous is not None and current.id != previous.id
    assert [e.weight for e in ledger.events(current.id) if e.kind is EventKind.SHIFTED] == [50, 100]


def test_two_approved_releases_cut_over_one_at_a_time_in_the_order_they_asked(stack: Stack) -> None:
    older, older_run = stack.at_gate("Release 4a")
    newer, newer_run = stack.at_gate("Release 4b")
    stack.resume(older_run, decision="approve", approver="alice", reason="first")
    deadline = time.monotonic() + 120
    while not any(r.sha == older for r in stack.releases()) and time.monotonic() < deadline:
        time.sleep(0.2)
    stack.resume(newer_run, decision="approve", approver="bob", reason="second")  # while the older one cuts over
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


def test_an_older_release_approved_after_a_newer_one_is_superseded(stack: Stack) -> None:
    serving = stack.ledger().current("production", "api")
    older, older_run = stack.at_gate("Release 5a")
    _newer, newer_run = stack.at_gate("Release 5b")
    stack.resume(newer_run, decision="reject", approver="bob", reason="not this one")
    stack.wait(newer_run, StateType.FAILED)
    rejected_newer_does_not_count = stack.ledger().decisions("production", str(older_run))
    assert [d.kind for d in rejected_newer_does_not_count] == [DecisionKind.REQUESTED]
    newest, newest_run = stack.at_gate("Release 5c")
    stack.resume(newest_run, decision="approve", approver="bob", reason="the fix")
    stack.wait(newest_run, StateType.COMPLETED)
    stack.resume(older_run, decision="approve", approver="alice", reason="late approval")
    run = stack.wait(older_run, StateType.CANCELLED, StateType.COMPLETED, StateType.FAILED)
    assert run.state is not None and run.state.type is StateType.CANCELLED, run.state
    assert run.state.message is not None and run.state.message.startswith("superseded by ")
    ledger = stack.ledger()
    assert [d.kind for d in ledger.decisions("production", str(older_run))][-1] is DecisionKind.SUPERSEDED
    current = ledger.current("production", "api")
    assert current is not None and current.sha == newest and serving is not None
    assert all(r.sha != older for r in ledger.stable_stack("production", "api"))
    assert any(t.endswith("superseded") for t in stack.slack.texts())


def test_a_release_failing_its_smoke_tests_rolls_back_and_the_previous_one_keeps_serving(stack: Stack) -> None:
    before = stack.ledger().current("production", "api")
    main = stack.repo / "apps" / "api" / "api" / "main.py"
    healthy = main.read_text()
    main.write_text(healthy.replace('return {"status": "ok"}', 'return {"status": "degraded"}'))
    sha = stack.commit("Release 5d: /health says degraded")
    main.write_text(healthy)
    run_id = stack.push(sha)
    stack.wait_for_gate(run_id, "approval-1")
    stack.resume(run_id, decision="approve", approver="alice", reason="looks fine")
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
    cli = approve(stack, run_id, "--reject", "--as", "bob", "--reason", "freeze week")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    run = stack.wait(run_id, StateType.FAILED, StateType.COMPLETED, StateType.CRASHED)
    assert run.state is not None and run.state.type is StateType.FAILED
    assert run.state.message == "rejected: freeze week"
    ledger = stack.ledger()
    assert [(d.kind, d.actor, d.via) for d in ledger.decisions("production", str(run_id))][-1] == (
        DecisionKind.REJECTED, "bob", "cli",
    )  # fmt: skip
    assert ledger.current("production", "api") == before
    assert any(": rejected by bob" in t for t in stack.slack.texts())


def test_an_approval_nobody_gives_in_time_is_recorded_as_expired(stack: Stack) -> None:
    sha = stack.commit("Release 7", timeout_hours=0.003)  # about 11 seconds
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
    late = approve(stack, run_id, "--as", "alice", "--reason", "sorry, late")
    assert late.returncode == 2 and "is not waiting for an approval (it is Failed)" in late.stderr


def test_the_rollback_deployment_puts_the_previous_stable_release_back(stack: Stack) -> None:
    ledger = stack.ledger()
    current, previous = ledger.current("production", "api"), ledger.previous_stable("production", "api")
    assert current is not None and previous is not None
    parameters = {"repo": str(stack.repo), "environment": "production", "app": "api", "actor": "carol",
                  "reason": "error budget burning"}  # fmt: skip
    with SyncPrefectClient(stack.env["PREFECT_API_URL"]) as client:
        deployment = client.read_deployment_by_name("rollback/rollback")
        run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    final = stack.wait(run.id, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)
    assert final.state is not None and final.state.type is StateType.COMPLETED, final.state
    restored = stack.ledger().current("production", "api")
    assert restored is not None and restored.id == previous.id
    rolled = [e for e in stack.ledger().events(current.id) if e.kind is EventKind.ROLLED_BACK]
    assert rolled and rolled[-1].actor == "carol" and rolled[-1].reason.startswith("error budget burning")
    assert any(t.startswith(f":rewind: api in production: {previous.version} is back") for t in stack.slack.texts())
