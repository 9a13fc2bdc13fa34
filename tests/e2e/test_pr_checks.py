"""pr-checks end to end: the real CLI, real tools, a real `prefect server`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun

from shipyard.config import load_config
from shipyard.deps import DONE_MARKER, install_folder
from shipyard.home import Home
from shipyard.sample import commit_all, create_sample_repo
from shipyard.toolchains import resolve
from tests.capabilities import require_tools
from tests.support.configs import API_APP
from tests.support.probes import processes_named

pytestmark = pytest.mark.slow

QUALITY = ("--stage", "quality")  # the other stages have their own tests (test_pr_checks_stages.py)
EXPECTED_CHECKS = {
    f"check {app}/{check}/{toolchain}"
    for app, toolchains in {
        "api": ["python3.11"],
        "workers": ["python3.11"],
        "ml": ["python3.11"],
        "web": ["node18", "node20"],
    }.items()
    for toolchain in toolchains
    for check in ("lint", "format", "typecheck", "test")
}


@dataclass
class CliRun:
    code: int
    output: str
    flow_run_id: UUID | None


def shipyard(env: dict[str, str], *args: str) -> CliRun:
    proc = subprocess.run([sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", output)
    return CliRun(proc.returncode, output, UUID(match[1]) if match else None)


def client_for(env: dict[str, str]) -> SyncPrefectClient:
    return SyncPrefectClient(env["PREFECT_API_URL"])


def read_run(env: dict[str, str], run_id: UUID) -> tuple[FlowRun, list[TaskRun]]:
    with client_for(env) as client:
        flow_run = client.read_flow_run(run_id)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return flow_run, tasks


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    require_tools("git", "node", "npm", "python3.11")
    repo = tmp_path_factory.mktemp("sample")
    return repo, create_sample_repo(repo)


@pytest.fixture(scope="module")
def first_run(shipyard_env: dict[str, str], sample: tuple[Path, str]) -> CliRun:
    repo, sha = sample
    return shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, *QUALITY)


def test_clean_sample_passes_on_a_real_prefect_server(shipyard_env: dict[str, str], first_run: CliRun) -> None:
    assert first_run.code == 0, first_run.output
    assert "all checks passed (20 passed)" in first_run.output
    assert first_run.flow_run_id is not None
    flow_run, task_runs = read_run(shipyard_env, first_run.flow_run_id)
    assert flow_run.state is not None and flow_run.state.type is StateType.COMPLETED
    with client_for(shipyard_env) as client:
        assert client.read_flow(flow_run.flow_id).name == "pr-checks"
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
    checks = [t for t in task_runs if t.name.startswith("check ")]
    assert sorted(t.name for t in checks) == sorted(EXPECTED_CHECKS)  # one task run per app x check x version
    assert all(t.state is not None and t.state.type is StateType.COMPLETED for t in checks)
    assert {a.key for a in artifacts} >= {"pr-checks-table", "pr-checks-details"}
    table = next(a for a in artifacts if a.key == "pr-checks-table")
    assert isinstance(table.data, str) and "coverage" in table.data
    reports = Path(shipyard_env["SHIPYARD_HOME"]) / "runs" / str(flow_run.id) / "reports"
    assert len(list(reports.glob("*/*-*.xml"))) >= 20
    assert (reports / "api" / "test-python3.11.tests.xml").is_file()  # pytest's own JUnit, kept beside ours


def test_second_run_on_the_same_sha_reuses_results_and_dependencies(
    shipyard_env: dict[str, str], sample: tuple[Path, str], first_run: CliRun
) -> None:
    assert first_run.code == 0, first_run.output
    repo, sha = sample
    installs_before = {p: p.stat().st_mtime_ns for p in sample_installs(repo)}
    again = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, *QUALITY)
    assert again.code == 0, again.output
    assert again.flow_run_id is not None
    _, task_runs = read_run(shipyard_env, again.flow_run_id)
    checks = [t for t in task_runs if t.name.startswith("check ")]
    assert len(checks) == 20 and all(t.state is not None and t.state.name == "Cached" for t in checks)
    assert {p: p.stat().st_mtime_ns for p in sample_installs(repo)} == installs_before


def sample_installs(repo: Path) -> list[Path]:
    """The completion marker of each install the sample's checks use: 3 venvs, node_modules for node 18 and 20."""
    home = Home.from_env()  # the tests' shared cache (tests/conftest.py)
    markers = []
    for name, app in load_config(repo / "shipyard.yaml").apps.items():
        lockfile = (repo / app.path / app.lockfile).read_text()
        for version in app.versions:
            toolchain = resolve(app.toolchain, version, home.toolchains)
            markers.append(install_folder(home.deps, name, app, lockfile, toolchain) / DONE_MARKER)
    assert len(markers) == 5
    return markers


def test_a_change_to_one_app_reruns_only_that_app(
    shipyard_env: dict[str, str], sample: tuple[Path, str], first_run: CliRun, tmp_path: Path
) -> None:
    assert first_run.code == 0, first_run.output
    repo, _ = sample
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    (clone / "apps" / "ml" / "ml" / "__init__.py").write_text('"""Price estimation for listings (v2)."""\n')
    changed = commit_all(clone, "touch ml")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(clone), "--sha", changed, *QUALITY)
    assert run.code == 0, run.output
    assert run.flow_run_id is not None
    _, task_runs = read_run(shipyard_env, run.flow_run_id)
    ran = {t.name for t in task_runs if t.name.startswith("check ") and t.state and t.state.name != "Cached"}
    assert ran == {f"check ml/{c}/python3.11" for c in ("lint", "format", "typecheck", "test")}


def test_broken_variant_fails_naming_each_failing_check(shipyard_env: dict[str, str], tmp_path: Path) -> None:
    require_tools("git", "node", "npm", "python3.11")
    repo = tmp_path / "broken"
    sha = create_sample_repo(repo, "broken")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, *QUALITY)
    assert run.code == 1, run.output
    headline = run.output.strip().splitlines()[-1]
    for name in ("api/lint/python3.11", "workers/test/python3.11", "web/format/node18", "web/format/node20"):
        assert name in headline
    assert "ml/test/python3.11 (failed: coverage 51.3% is below the 75% gate)" in headline
    assert "F401" in run.output  # the lint failure's own output is shown
    assert run.flow_run_id is not None
    flow_run, _ = read_run(shipyard_env, run.flow_run_id)
    assert flow_run.state is not None and flow_run.state.type is StateType.FAILED
    assert "api/lint/python3.11" in (flow_run.state.message or "")


def test_bad_config_exits_2_naming_file_and_key(shipyard_env: dict[str, str], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    config = repo / "shipyard.yaml"
    config.write_text(
        config.read_text().replace("min: 75}", "min: 175}").replace('versions: ["18", "20"]', "versions: 18")
    )
    sha = commit_all(repo, "bad config")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha)
    assert run.code == 2, run.output
    assert re.search(
        rf"shipyard.yaml@{sha[:12]}:\d+: apps.ml.checks.test.coverage.min: expected a value <= 100", run.output
    )
    assert re.search(r"shipyard.yaml@\w+:\d+: apps.web.versions: expected a list, got 18", run.output)


def test_unknown_commit_exits_2(shipyard_env: dict[str, str], sample: tuple[Path, str]) -> None:
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(sample[0]), "--sha", "0123456789abcdef")
    assert run.code == 2, run.output
    assert "commit '0123456789abcdef' not found" in run.output


@pytest.mark.parametrize(("policy", "code"), [("fail", 1), ("warn", 0)])
def test_a_missing_tool_is_unavailable_never_passed(
    shipyard_env: dict[str, str], tmp_path: Path, policy: str, code: int
) -> None:
    require_tools("git", "python3.11")
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    config = repo / "shipyard.yaml"
    text = config.read_text().replace("on_unavailable: fail", f"on_unavailable: {policy}")
    config.write_text(text.replace("      lint: ruff check .\n", "      lint: no-such-linter .\n", 2))
    sha = commit_all(repo, "config naming a linter that is not installed")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--app", "workers", *QUALITY)
    assert run.code == code, run.output
    assert re.search(
        r"workers[│ ]+lint[│ ]+python3.11[│ ]+unavailable[│ ]+\S+[│ ]+tool not available: no-such-linter", run.output
    )
    assert "3 passed, 1 unavailable" in run.output
    assert "all checks passed" not in run.output


def test_a_failed_install_is_retried_then_its_checks_are_skipped(shipyard_env: dict[str, str], tmp_path: Path) -> None:
    require_tools("git", "python3.11")
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    lock = repo / "apps" / "workers" / "requirements.lock"
    # first in the file: pip stops at it before downloading the rest, so each of the three attempts takes seconds
    lock.write_text("shipyard-no-such-package-xyz==0.0.1\n" + lock.read_text())
    sha = commit_all(repo, "lock a package that does not exist")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--app", "workers", *QUALITY)
    assert run.code == 1, run.output
    assert "4 skipped" in run.output
    assert "dependencies could not be installed" in run.output and "shipyard-no-such-package-xyz" in run.output
    assert run.flow_run_id is not None
    _, task_runs = read_run(shipyard_env, run.flow_run_id)
    prepare = next(t for t in task_runs if t.name.startswith("prepare workers"))
    assert prepare.run_count == 3  # two retries: a registry hiccup could have passed on the next try


def test_sigterm_to_a_running_pr_checks_leaves_no_check_process_and_ends_the_run_crashed(
    shipyard_env: dict[str, str], tmp_path: Path
) -> None:
    require_tools("git", "python3.11", "bwrap")
    tag = f"check-sigterm-{uuid.uuid4().hex[:8]}"
    repo = tmp_path / "repo"
    (repo / "apps" / "api").mkdir(parents=True)
    (repo / "apps" / "api" / "requirements.lock").write_text("")
    slow = f"setsid bash -c 'exec -a {tag} sleep 300' & exec -a {tag} sleep 300"
    (repo / "shipyard.yaml").write_text(API_APP.replace("lint: ruff check .", f'slow: "{slow}"'))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    sha = commit_all(repo, "a check that takes its time")
    argv = [sys.executable, "-m", "cli", "run", "pr-checks", "--repo", str(repo), "--sha", sha, *QUALITY]
    cli = subprocess.Popen(argv, env=shipyard_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while len(processes_named(tag)) < 2 and time.monotonic() < deadline and cli.poll() is None:
            time.sleep(0.2)
        assert len(processes_named(tag)) == 2, "the check never started"
        cli.send_signal(signal.SIGTERM)
        output, _ = cli.communicate(timeout=60)
    finally:
        cli.kill()
    assert cli.returncode == 143, output
    assert "stopped by SIGTERM" in output
    deadline = time.monotonic() + 5  # the sandbox's namespace is being torn down
    while processes_named(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_named(tag) == []
    match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", output)
    assert match, output
    with client_for(shipyard_env) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(match[1])])))
    assert runs[0].state is not None and runs[0].state.type is StateType.CRASHED
    assert "stopped by SIGTERM" in (runs[0].state.message or "")
