"""pr-checks security, database and docs stages, and commit statuses, end to end (real CLI, tools, server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require_tools
from tests.e2e.test_pr_checks import CliRun, client_for, read_run, shipyard
from tests.shipyard.database.test_migrations_stage import leftovers
from tests.support.github_standin import GitHubStandIn, github_standin

pytestmark = pytest.mark.slow

TOKEN = "ghs_standin_0123456789abcdef"
SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
VULNERABLE_TOKEN = "ghp_Zq7Rk2LmW9sXv4TnB8yHc1JdF6gPe3Ua5NoQ"  # the variant's fake token: must never be echoed


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandIn]:
    with github_standin(TOKEN) as standin:
        yield standin


def sample_for(tmp_path: Path, github: GitHubStandIn, variant: str | None = None) -> tuple[Path, str]:
    """The sample (or a variant) with its GitHub statuses pointed at the stand-in."""
    require_tools("git", "node", "npm", "python3.11")
    repo = tmp_path / (variant or "sample")
    create_sample_repo(repo, variant)
    config = repo / "shipyard.yaml"
    config.write_text(config.read_text().replace("  token_env: GITHUB_TOKEN\n", f"  api_url: {github.url}\n", 1))
    return repo, commit_all(repo, "statuses to the stand-in")


def reports_of(env: dict[str, str], run: CliRun) -> Path:
    return Path(env["SHIPYARD_HOME"]) / "runs" / str(run.flow_run_id) / "reports"


@pytest.fixture(scope="module")
def clean_run(
    shipyard_env: dict[str, str], github: GitHubStandIn, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CliRun, str]:
    repo, sha = sample_for(tmp_path_factory.mktemp("clean"), github)
    env = dict(shipyard_env, GITHUB_TOKEN=TOKEN)
    return shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--branch", "main"), sha


def test_clean_sample_passes_with_the_dependency_audit_unavailable_not_passed(clean_run: tuple[CliRun, str]) -> None:
    run, _ = clean_run
    assert run.code == 0, run.output
    headline = run.output.strip().splitlines()[-1]
    assert "did not pass: security/pip-audit (unavailable), security/npm-audit (unavailable)" in headline
    assert "all checks passed" not in run.output
    passed = ("semgrep", "secrets", "trivy-config", "checkov", "hadolint", "kubernetes", "bandit", "lockfile-hashes")
    for scanner in passed:
        assert f"security/{scanner}" not in headline
    assert "vulnerability data unreachable for apps/api/requirements.lock" in run.output
    assert "vulnerability data unreachable for apps/web/package-lock.json" in run.output


def table_artifact(env: dict[str, str], run: CliRun, key: str) -> list[dict[str, str]]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    assert run.flow_run_id is not None
    with client_for(env) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run.flow_run_id]), key=ArtifactFilterKey(any_=[key])
            )
        )
    assert isinstance(artifact.data, str)  # a table artifact is stored as its JSON text
    rows: list[dict[str, str]] = json.loads(artifact.data)
    return rows


def test_clean_run_writes_a_valid_sarif_and_the_api_docs(
    shipyard_env: dict[str, str], clean_run: tuple[CliRun, str]
) -> None:
    run, _ = clean_run
    reports = reports_of(shipyard_env, run)
    log = json.loads((reports / "security.sarif").read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert len(log["runs"]) == 10
    assert {p.name for p in (reports / "security").iterdir()} >= {"semgrep.json", "checkov.json", "pip-audit.json"}
    openapi = json.loads((reports / "docs" / "api" / "openapi.json").read_text())
    assert {"/health", "/properties", "/properties/{property_id}"} <= set(openapi["paths"])
    page = (reports / "docs" / "api" / "index.html").read_text()
    assert "<code>/properties/{property_id}</code>" in page and "<script" not in page
    assert run.flow_run_id is not None
    _, task_runs = read_run(shipyard_env, run.flow_run_id)
    assert {"migrations api", "docs api", "scan semgrep", "publish SARIF"} <= {t.name for t in task_runs}
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with client_for(shipyard_env) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.flow_run_id]))
        )
    keys = {a.key for a in artifacts}
    assert {"security-findings", "api-docs-api", "pr-checks-table"} <= keys


def test_github_gets_pending_then_final_status_for_each_stage_on_the_right_sha(
    github: GitHubStandIn, clean_run: tuple[CliRun, str]
) -> None:
    run, sha = clean_run
    assert github.contexts(sha) == {
        f"shipyard/{stage}": ["pending", "success"]
        for stage in ("quality", "security", "database", "docs", "pr-checks")
    }
    final = [s for s in github.statuses if s["sha"] == sha and s["state"] != "pending"]
    assert all(s["repo"] == "example/sample-platform" for s in final)
    assert all(str(run.flow_run_id) in s["target_url"] for s in final)
    security = next(s for s in final if s["context"] == "shipyard/security")
    assert security["description"] == "8 passed, 2 unavailable"


def test_a_github_outage_is_retried_and_never_changes_the_result(
    shipyard_env: dict[str, str], github: GitHubStandIn, clean_run: tuple[CliRun, str], tmp_path: Path
) -> None:
    first, _ = clean_run
    assert first.code == 0, first.output
    repo, sha = sample_for(tmp_path, github)
    github.fail_next += [503, 503, 429]
    env = dict(shipyard_env, GITHUB_TOKEN=TOKEN)
    run = shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--stage", "database")
    assert run.code == 0, run.output
    assert github.contexts(sha) == {
        "shipyard/database": ["pending", "success"],
        "shipyard/pr-checks": ["pending", "success"],
    }
    assert not github.fail_next
    bad = shipyard(dict(shipyard_env, GITHUB_TOKEN="wrong"), "run", "pr-checks", "--repo", str(repo), "--sha", sha,
                   "--stage", "database")  # fmt: skip
    assert bad.code == 0, bad.output  # GitHub refusing us is logged; the checks still pass
    assert github.rejected[-1] == (401, "Bad credentials")


def test_vulnerable_variant_fails_naming_token_injection_root_and_limits_and_flags_its_unhashed_lock_file(
    shipyard_env: dict[str, str], github: GitHubStandIn, tmp_path: Path
) -> None:
    repo, sha = sample_for(tmp_path, github, "vulnerable")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--stage", "security")
    assert run.code == 1, run.output
    headline = run.output.strip().splitlines()[-1]
    expected = {
        "the token": ["github-pat GitHub Personal Access Token (apps/workers/workers/archive.py:5",
                      "hardcoded-credential"],
        "the injection": ["python-shell-injection", "B602 subprocess call with shell=True"],
        "the root Dockerfile": ["DS-0002 Image user should not be 'root' (infra/docker/api.Dockerfile:19",
                                "CKV_DOCKER_8 Ensure the last USER is not root"],
        "the missing limits": ["CKV_K8S_11 CPU limits should be set (infra/k8s/api/deployment.yaml",
                               "CKV_K8S_13 Memory limits should be set"],
    }  # fmt: skip
    for what, names in expected.items():
        for name in names:
            assert name in headline, f"{what}: {name}"
    assert VULNERABLE_TOKEN not in run.output
    # medium: in the summary and the SARIF, not blocking
    assert "security/lockfile-hashes" not in headline
    [row] = [r for r in table_artifact(shipyard_env, run, "pr-checks-table") if r["check"] == "lockfile-hashes"]
    assert (row["status"], row["detail"]) == (
        "passed",
        "no findings at or above high, 1 below: lockfile-without-hashes (apps/workers/requirements.lock)",
    )
    log = json.loads((reports_of(shipyard_env, run) / "security.sarif").read_text())
    [lockfiles] = [r for r in log["runs"] if r["tool"]["driver"]["name"] == "lockfile-hashes"]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in lockfiles["results"]
    ] == [("lockfile-without-hashes", "warning", "apps/workers/requirements.lock")]
    for report in reports_of(shipyard_env, run).rglob("*"):
        if report.is_file():
            assert VULNERABLE_TOKEN not in report.read_text(errors="replace"), report


def test_broken_migration_variant_fails_the_database_stage_and_leaves_no_server(
    shipyard_env: dict[str, str], github: GitHubStandIn, tmp_path: Path, own_tmpdir: Path
) -> None:
    repo, sha = sample_for(tmp_path, github, "broken-migration")
    env = dict(shipyard_env, TMPDIR=str(own_tmpdir))
    run = shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--stage", "database")
    assert run.code == 1, run.output
    headline = run.output.strip().splitlines()[-1]
    assert "api/migrations/python3.11 (failed: downgrade 0002 -> 0001 failed at revision 0002" in headline
    assert "schema drift at head 0002: add_column: column properties.rating exists only in the models" in headline
    assert leftovers(own_tmpdir) == set()


def test_docs_that_do_not_build_fail_with_the_apps_error(
    shipyard_env: dict[str, str], github: GitHubStandIn, tmp_path: Path
) -> None:
    repo, _ = sample_for(tmp_path, github)
    main = repo / "apps" / "api" / "api" / "main.py"
    main.write_text(main.read_text().replace("def create_app(", "def create_app(*args: object, **kwargs: object):\n"
                    "    raise RuntimeError('API_TITLE is not set')\n\n\ndef _unused(", 1))  # fmt: skip
    sha = commit_all(repo, "an app factory that raises")
    run = shipyard(shipyard_env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--branch", "main",
                   "--stage", "docs")  # fmt: skip
    assert run.code == 1, run.output  # docs are required on main
    assert (
        "api/openapi/python3.11 (failed: the OpenAPI schema of api.main:create_app did not build: "
        "RuntimeError: API_TITLE is not set)" in run.output.strip().splitlines()[-1]
    )


def test_a_run_that_cannot_finish_turns_its_pending_statuses_into_errors(
    shipyard_env: dict[str, str], github: GitHubStandIn, tmp_path: Path
) -> None:
    repo, _ = sample_for(tmp_path, github)
    config = repo / "shipyard.yaml"
    config.write_text(config.read_text().replace("  namespace: platform\n", "  namespace: platform\n"
                                                 "  credentials_block: no-such-block\n"))  # fmt: skip
    sha = commit_all(repo, "a credentials block that does not exist")
    env = dict(shipyard_env, GITHUB_TOKEN=TOKEN)
    run = shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", sha, "--stage", "images")
    assert run.code == 2, run.output
    assert "images.credentials_block: no DockerRegistryCredentials block named 'no-such-block'" in run.output
    assert github.contexts(sha) == {"shipyard/images": ["pending", "error"], "shipyard/pr-checks": ["pending", "error"]}
