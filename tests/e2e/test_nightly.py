"""The nightly flow end to end on a real Prefect server: uncached suite, a real locust run against the sample api
serving in staging (local backend), a report with trends on the second night, a Slack summary."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home, Zone
from shipyard.ledger import Ledger
from shipyard.release.package import package
from shipyard.release.setup import local_backend
from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require_tools
from tests.support.slack_standin import SlackStandIn, slack_standin

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
SLACK_TOKEN = "xoxb-nightly-token"

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
CONFIG = """\
version: 1
project: nightly-demo
apps:
  api:
    path: apps/api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks: {{lint: ruff check ., test: "pytest -q"}}
    serve:
      command: uvicorn api.main:create_app --factory --host 127.0.0.1 --port {{port}}
environments:
  staging:
    target: {{backend: local, ports: {{api: {{router: {router}, blue: {blue}, green: {green}}}}}}}
    rollout: {{max_p95_ms: 10000, steps: [100], pause_seconds: 0, min_samples: 1}}
nightly:
  environment: staging
  load: {{app: api, paths: [/health, /version], users: 4, spawn_rate: 4, duration_seconds: 4, max_p95_ms: {p95}}}
security:
  scanners:
    semgrep: {{enabled: false}}
    trivy-config: {{enabled: false}}
    checkov: {{enabled: false}}
    hadolint: {{enabled: false}}
    kubernetes: {{enabled: false}}
    pip-audit: {{enabled: false}}
    npm-audit: {{enabled: false}}
notifications:
  slack: {{channel: "#nightly", api_url: "{slack}", token_env: SLACK_BOT_TOKEN}}
"""


@pytest.fixture(scope="module")
def staging(
    shipyard_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str], SlackStandIn]]:
    require_tools("git", "haproxy", "python3.11")
    base = tmp_path_factory.mktemp("nightly")
    repo = base / "repo"
    create_sample_repo(repo)
    ports = {"router": free_port(), "blue": free_port(), "green": free_port()}
    # the suite's shared installs, as the CLI below sees them; packaged as a deploy flow does (protected zone)
    home = replace(Home.from_env(Zone.PROTECTED), root=base / "home")
    env = dict(shipyard_env, SHIPYARD_HOME=str(home.root), SLACK_BOT_TOKEN=SLACK_TOKEN, PYTHONPATH=str(ROOT))
    env.pop("SHIPYARD_LEDGER_URL", None)
    with slack_standin(SLACK_TOKEN, {"#nightly"}) as slack:
        (repo / "shipyard.yaml").write_text(CONFIG.format(slack=slack.api_url, p95=500, **ports))
        sha = commit_all(repo, "nightly config")
        config = load_config(repo / "shipyard.yaml")
        folder = package("api", config.apps["api"], repo, sha, home)
        deployed = subprocess.run(
            [sys.executable, "-m", "cli", "deploy", "staging", "--app", "api", "--version", "1.4.2",
             "--sha", sha, "--artifact", folder.path, "--config", str(repo / "shipyard.yaml")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        try:
            yield repo, env, slack
        finally:
            local_backend(config, "staging", home).shutdown("api")


def run_nightly(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"from flows.nightly import nightly; nightly(repo={str(repo)!r}, branch='main', return_state=True)"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def last_run(env: dict[str, str]) -> FlowRun:
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=20)
    return next(r for r in runs if r.name.startswith("nightly"))


def report_of(env: dict[str, str], run_id: UUID) -> str:
    return (Path(env["SHIPYARD_HOME"]) / "runs" / str(run_id) / "reports" / "nightly.md").read_text()


def test_two_nights_load_test_staging_and_the_second_report_compares_with_the_first(
    staging: tuple[Path, dict[str, str], SlackStandIn],
) -> None:
    repo, env, slack = staging
    first = run_nightly(repo, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = last_run(env)
    assert run.state is not None and run.state.is_completed(), run.state
    report = report_of(env, run.id)
    assert report.startswith("# nightly-demo nightly ") and ": passed" in report.splitlines()[0]
    assert "First night on record" in report
    assert "| api | lint | python3.11 | passed |" in report  # uncached: not "passed (cached)"

    # the second night: a stricter latency limit that no real run can meet, so the load test fails it
    config = repo / "shipyard.yaml"
    config.write_text(config.read_text().replace("max_p95_ms: 500", "max_p95_ms: 0.001"))
    commit_all(repo, "tighter latency budget")
    second = run_nightly(repo, env)
    assert second.returncode == 0, second.stderr[-3000:]
    run = last_run(env)
    assert run.state is not None and run.state.is_failed()
    assert "load test: p95" in (run.state.message or "")
    report = report_of(env, run.id)
    assert "- result: passed → FAILED" in report
    trend = [line for line in report.splitlines() if line.startswith("| 20")]
    assert len(trend) == 2 and "| passed |" in trend[0] and "| failed |" in trend[1]
    nights = Ledger(f"sqlite:///{env['SHIPYARD_HOME']}/ledger.db").nightlies("nightly-demo")
    assert [n.passed for n in nights] == [True, False]
    assert nights[1].load_requests and nights[1].load_requests > 10 and nights[1].load_error_rate == 0.0
    texts = slack.texts()
    assert texts == [":crescent_moon: nightly-demo nightly: all passed", ":crescent_moon: nightly-demo nightly: FAILED"]
    assert json.dumps(slack.messages[-1]["blocks"]).count("Load test") == 1
