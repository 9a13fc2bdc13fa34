"""Tasks of the quality stage: prepare a toolchain and dependencies, run one check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.client.schemas.objects import State
from prefect.context import TaskRunContext
from prefect.states import Failed

from shipyard import deps, toolchains
from shipyard.checks.execute import execute
from shipyard.checks.model import CheckResult, CheckSpec, Status
from shipyard.checks.plan import MatrixEntry, check_cache_key
from shipyard.config.schema import App
from shipyard.home import Home
from tasks.policy import BACKOFF, JITTER, retry_unless


@task(
    task_run_name="prepare {entry.app} ({entry.toolchain})",
    retries=2,
    retry_delay_seconds=BACKOFF,
    retry_jitter_factor=JITTER,
    retry_condition_fn=retry_unless(toolchains.ToolchainUnavailable),  # a missing toolchain stays missing
)
def prepare(entry: MatrixEntry, app: App, workspace: str, sha: str) -> deps.Prepared:
    home = Home.from_env()
    toolchain = toolchains.resolve(entry.kind, entry.version, home.toolchains)
    return deps.install(entry.app, app, toolchain, Path(workspace), sha, home.deps)


def _check_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    prepared: deps.Prepared = parameters["prepared"]
    return check_cache_key(parameters["spec"], prepared.toolchain.full_version, prepared.key)


@task(
    task_run_name="check {spec.app}/{spec.check}/{spec.toolchain}",
    cache_key_fn=_check_key,
    cache_expiration=timedelta(days=14),
    persist_result=True,
)
def run_check(spec: CheckSpec, prepared: deps.Prepared, workspace: str, sha: str) -> CheckResult | State:
    """Passed results are cached by content; failed and unavailable ones end Failed and are never cached."""
    result = execute(spec, prepared, Path(workspace), sha, Path(f"{workspace}-checks"))
    if result.status is Status.PASSED:
        return result
    name = "Unavailable" if result.status is Status.UNAVAILABLE else "Failed"
    return Failed(name=name, message=f"{spec.name}: {result.summary}", data=result)
