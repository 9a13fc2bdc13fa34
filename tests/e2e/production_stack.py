"""The production-deploy stack the e2e modules share: a real Prefect server and process worker, the five
deployments, the webhook relay, a real PostgreSQL, and the GitHub and Slack stand-ins; each module builds its own
(own home, database and ports) so the modules can run on different test workers."""

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
import yaml
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun, StateType

from deployments.pools import create_process_pools
from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import Ledger, ReleaseView
from shipyard.postgres import new_database
from shipyard.release.setup import local_backend
from shipyard.runner import spawn, stop
from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require_tools
from tests.deployments.test_webhook_relay import delivery, push
from tests.support.approvers import make_keys, policy_for
from tests.support.github_standin import GitHubStandIn, github_standin
from tests.support.slack_standin import SlackStandIn, slack_standin

ROOT = Path(__file__).parents[2]
GITHUB_TOKEN = "ghp_e2e_token_0123456789"
SLACK_TOKEN = "xoxb-e2e-slack-token"
SECRET = "e2e-webhook-secret"
DANA = {"dana": ["dana@example.com"]}  # the sample's commits are dana's: she may not approve them
LOGINS = {"dana": "dana-gh", "alice": "alice-gh", "bob": "bob-gh"}  # their GitHub accounts

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
    approval_timeout_hours: 24
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
    client: SyncPrefectClient  # one for the stack's life: each new client builds an SSL context (CPU under load)
    keys: dict[str, Path]  # approvers' SSH private keys: alice, bob and dana are in the policy, mallory is not

    def config(self) -> str:
        return CONFIG.format(github=self.github.url, slack=self.slack.api_url, **self.ports)

    def commit(self, message: str, author: str | None = None) -> str:
        """A commit of dana's (GitHub's stand-in knows her account as its author and committer)."""
        (self.repo / "shipyard.yaml").write_text(self.config())
        (self.repo / "CHANGELOG.md").write_text(message + "\n")
        sha = commit_all(self.repo, message, author)
        self.github.commits[sha] = {"author": "dana-gh", "committer": "dana-gh"}
        return sha

    def push(self, sha: str, branch: str = "main") -> UUID:
        current = subprocess.run(["git", "-C", str(self.repo), "branch", "--show-current"], capture_output=True,
                                 text=True, check=True).stdout.strip()  # fmt: skip
        if branch != current:  # the branch a push names holds the commit: a deploy checks that it does
            subprocess.run(["git", "-C", str(self.repo), "branch", "-f", branch, sha], check=True, capture_output=True)
        body = push(branch, sha) | {"repository": {"clone_url": str(self.repo), "full_name": "example/sample-platform"}}
        answer = httpx.post(self.relay + "/github", **delivery("push", body, f"e2e-{sha[:12]}", SECRET.encode()))
        assert answer.status_code == 202, answer.text
        return self.run_for(sha, f"{'production' if branch == 'main' else 'staging'}-deploy")

    def run_for(self, sha: str, deployment: str, timeout: float = 60) -> UUID:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.client.read_flow_runs(
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
            run = self.client.read_flow_run(run_id)
            if run.state is not None and run.state.type in types:
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} is {run.state!r}, not {types}; worker log:\n{self.log.read_text()[-4000:]}")

    def at_gate(self, message: str) -> tuple[str, UUID]:
        """A commit pushed to main, its production-deploy run waiting at its first approval gate."""
        sha = self.commit(message)
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
        result = self.client.resume_flow_run(run_id, run_input=form)
        assert result.status.value == "ACCEPT", result.details

    def approve(self, run_id: UUID, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`shipyard approve`, signed with this person's key."""
        return shipyard(self, "approve", str(run_id), "--key", str(self.keys[name]), *args)

    def signed(self, run_id: UUID, name: str, reason: str, *args: str) -> None:
        answered = self.approve(run_id, name, "--reason", reason, *args)
        assert answered.returncode == 0, answered.stdout + answered.stderr

    def code(self, run_id: UUID, name: str, reason: str, *args: str) -> str:
        """A one-time code from the relay for this answer, asked for with this person's key (`shipyard approvals
        code`)."""
        asked = shipyard(self, "approvals", "code", str(run_id), "--reason", reason, *args, "--key",
                         str(self.keys[name]), "--relay", self.relay)  # fmt: skip
        assert asked.returncode == 0, asked.stdout + asked.stderr
        return asked.stdout.split()[-1]

    @contextlib.contextmanager
    def policy(self, reason: str, **production: object) -> Iterator[None]:
        """The stack's policy with these production settings while the block runs (`shipyard policy apply`)."""
        policy = yaml.safe_load((self.home.parent / "policy.yaml").read_text())
        policy["environments"]["production"] |= production
        changed = self.home.parent / "policy-changed.yaml"
        changed.write_text(yaml.safe_dump(policy))
        applied = shipyard(self, "policy", "apply", str(changed), "--as", "ops", "--reason", reason)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        try:
            yield
        finally:
            back = shipyard(self, "policy", "apply", str(self.home.parent / "policy.yaml"), "--as", "ops", "--reason",
                            f"done: {reason}")  # fmt: skip
            assert back.returncode == 0, back.stdout + back.stderr

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


def shipyard(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def production_stack(
    name: str, shipyard_env: dict[str, str], postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack of its own: home, database and ports named after the module using it."""
    require_tools("haproxy")
    base = tmp_path_factory.mktemp(name)
    with new_database(postgres_server, prefix=name.replace("-", "_")) as production_database:
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
            PROD_DATABASE_URL=production_database,
            SHIPYARD_REPO=str(base / "repo"),  # the nightly deployment's repository parameter
        )
        env.pop("SHIPYARD_LEDGER_URL", None)
        prefect = str(Path(sys.executable).parent / "prefect")
        repo = base / "repo"
        create_sample_repo(repo)
        ports = {name: free_port() for name in ("router", "blue", "green", "s_router", "s_blue", "s_green")}
        log = base / "worker.log"
        with (
            github_standin(GITHUB_TOKEN) as github,
            slack_standin(SLACK_TOKEN, {"#deployments"}) as slack,
            SyncPrefectClient(env["PREFECT_API_URL"]) as client,
        ):
            create_process_pools(client, "shipyard-checks", "shipyard-deploy")
            registered = subprocess.run([prefect, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env,
                                        capture_output=True, text=True, timeout=300)  # fmt: skip
            assert registered.returncode == 0, registered.stdout + registered.stderr
            relay_config = base / "relay.yaml"
            relay_config.write_text(CONFIG.format(github=github.url, slack=slack.api_url, **ports))
            keys = make_keys(base / "keys", "alice", "bob", "dana", "mallory")
            in_policy = {name: keys[name] for name in ("alice", "bob", "dana")}
            policy = base / "policy.yaml"
            policy.write_text(yaml.safe_dump(policy_for(relay_config.read_text(), str(repo), in_policy, DANA, LOGINS)))
            applied = subprocess.run([sys.executable, "-m", "cli", "policy", "apply", str(policy), "--as", "ops",
                                      "--reason", "the stack's environments"], env=env, cwd=ROOT, capture_output=True,
                                     text=True, timeout=60)  # fmt: skip
            assert applied.returncode == 0, applied.stdout + applied.stderr
            relay_port = free_port()
            worker = spawn([prefect, "worker", "start", "--pool", "shipyard-deploy", "--type", "process"],
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
            stack = Stack(env, repo, url, github, slack, ports, home, log, client, keys)
            try:
                yield stack
            finally:
                for process, name in ((relay, "webhook relay"), (worker, "prefect worker")):
                    print(stop(process, name))
                for environment in ("production", "staging"):
                    local_backend(load_config(relay_config), environment, Home(home)).shutdown("api")
