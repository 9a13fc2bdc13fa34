"""pr-checks: checkout → read config → (per app × toolchain) prepare → checks in parallel → summary → gate."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, not_run
from shipyard.checks.plan import MatrixEntry, matrix, plan_checks
from shipyard.checks.report import ChecksFailed, Summary
from shipyard.config.schema import PipelineConfig
from shipyard.deps import Prepared
from shipyard.home import Home
from shipyard.toolchains import ToolchainUnavailable
from tasks.quality import prepare, run_check
from tasks.repo import checkout, read_config
from tasks.report import publish_summary


@flow(name="pr-checks", flow_run_name="pr-checks {sha:.12}")
def pr_checks(
    repo: str,
    sha: str,
    config_ref: str | None = None,
    apps: list[str] | None = None,
    parallelism: int | None = None,
) -> Summary:
    """Quality checks of one commit. config_ref: where shipyard.yaml is read (the base branch for PRs)."""
    run_id = flow_run.get_id() or uuid.uuid4().hex
    workspace, full_sha = checkout(repo, sha, run_id)
    try:
        config = read_config(workspace, config_ref or full_sha)
        specs = plan_checks(config, matrix(config, apps), lambda path: git.object_id(Path(workspace), full_sha, path))
        results = quality_stage(config, specs, workspace, full_sha, parallelism or config.checks.parallelism)
        summary = Summary(tuple(results))
        publish_summary(summary, str(Home.from_env().reports(run_id)), key="pr-checks")
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    if not summary.passed:
        raise ChecksFailed(summary)
    return summary


def quality_stage(
    config: PipelineConfig, specs: list[CheckSpec], workspace: str, sha: str, parallelism: int
) -> list[CheckResult]:
    """Each matrix entry's checks start as soon as its dependencies are ready."""
    entries = {MatrixEntry(s.app, s.kind, s.version) for s in specs}
    runner: ThreadPoolTaskRunner[Any]
    with ThreadPoolTaskRunner(max_workers=parallelism) as runner:
        preparing: dict[PrefectFuture[Prepared], MatrixEntry] = {
            runner.submit(prepare, {"entry": e, "app": config.apps[e.app], "workspace": workspace, "sha": sha}): e
            for e in sorted(entries, key=lambda e: e.name)
        }
        checks: list[PrefectFuture[CheckResult]] = []
        results: list[CheckResult] = []
        for ready in as_completed(list(preparing)):
            entry = preparing[ready]
            own = [s for s in specs if (s.app, s.toolchain) == (entry.app, entry.toolchain)]
            outcome = _final_state(ready).result(raise_on_failure=False)
            if isinstance(outcome, Prepared):
                checks += [
                    runner.submit(run_check, {"spec": s, "prepared": outcome, "workspace": workspace, "sha": sha})
                    for s in own
                ]
            else:
                results += [_not_prepared(s, outcome) for s in own]
        results += [_result_of(future) for future in checks]
    order = {s.name: i for i, s in enumerate(specs)}
    return sorted(results, key=lambda r: order[r.spec.name])


def _not_prepared(spec: CheckSpec, error: object) -> CheckResult:
    if isinstance(error, ToolchainUnavailable):
        return not_run(spec, Status.UNAVAILABLE, str(error))
    return not_run(spec, Status.SKIPPED, f"dependencies could not be installed: {error}")


def _final_state(future: PrefectFuture[Any]) -> State[Any]:
    future.wait()  # records the final state on the future; reading the API instead could lag behind
    return future.state


def _result_of(future: PrefectFuture[CheckResult]) -> CheckResult:
    state = _final_state(future)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, CheckResult):
        raise RuntimeError(f"check task ended {state.name} without a result: {outcome}")
    return outcome.as_cached() if state.name == "Cached" else outcome
