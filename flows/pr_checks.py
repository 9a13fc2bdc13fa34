"""pr-checks: checkout → read config → (per app × toolchain) prepare → checks in parallel → summary → gate."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.quality_stage import quality_stage
from shipyard import git
from shipyard.checks.plan import matrix, plan_checks
from shipyard.checks.report import ChecksFailed, Summary
from shipyard.home import Home
from tasks.quality import run_check
from tasks.repo import checkout, read_config
from tasks.report import publish_summary


@flow(name="pr-checks", flow_run_name="pr-checks {sha:.12}")
def pr_checks(
    repo: str,
    sha: str,
    config_ref: str | None = None,
    apps: list[str] | None = None,
    parallelism: int | None = None,
    refresh_cache: bool = False,
) -> Summary:
    """Quality checks of one commit.

    config_ref: where shipyard.yaml is read (the base branch for PRs, never the PR head).
    refresh_cache: run every check even where a cached result for the same content exists.
    """
    run_id = flow_run.get_id() or uuid.uuid4().hex
    workspace, full_sha = checkout(repo, sha, run_id)
    try:
        config = read_config(workspace, config_ref or full_sha)
        specs = plan_checks(config, matrix(config, apps), lambda path: git.object_id(Path(workspace), full_sha, path))
        check = run_check.with_options(refresh_cache=True) if refresh_cache else run_check
        results = quality_stage(config, specs, workspace, full_sha, config.checks.workers(parallelism), check)
        summary = Summary(tuple(results))
        publish_summary(summary, str(Home.from_env().reports(run_id)), key="pr-checks")
    finally:
        for folder in (workspace, f"{workspace}-checks"):
            shutil.rmtree(folder, ignore_errors=True)
    if not summary.passed:
        raise ChecksFailed(summary)
    return summary
