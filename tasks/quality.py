"""Tasks of the quality stage: prepare a toolchain and dependencies, run one check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.client.schemas.objects import State
from prefect.context import TaskRunContext

from shipyard import deps, toolchains
from shipyard.checks.execute import execute
from shipyard.checks.model import CheckResult, CheckSpec, Status, not_run
from shipyard.checks.plan import MatrixEntry, check_cache_key
from shipyard.config.apps import App
from shipyard.home import Home
from shipyard.sandbox import SandboxUnavailable
from tasks.policy import BACKOFF, JITTER, check_state, retry_unless


@task(
    task_run_name="prepare {entry.app} ({entry.toolchain})",
    retries=2,
    retry_delay_seconds=BACKOFF,
    retry_jitter_factor=JITTER,
    retry_condition_fn=retry_unless(toolchains.ToolchainUnavailable, SandboxUnavailable),  # missing stays missing
)
def prepare(entry: MatrixEntry, app: App, workspace: str, sha: str, home: Home) -> deps.Prepared:
    return deps.prepare(entry.app, app, entry.version, Path(workspace), sha, home)


def prepare_app(spec: CheckSpec, app: App, workspace: str, sha: str, home: Home) -> deps.Prepared | CheckResult:
    """For stages that run one check per app (database, docs): its first toolchain, or why the check cannot run."""
    try:
        return deps.prepare(spec.app, app, app.versions[0], Path(workspace), sha, home)
    except (toolchains.ToolchainUnavailable, SandboxUnavailable) as exc:
        return not_run(spec, Status.UNAVAILABLE, str(exc))
    except deps.DependencyInstallFailed as exc:
        return not_run(spec, Status.SKIPPED, f"dependencies could not be installed: {exc}")


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
    return check_state(execute(spec, prepared, Path(workspace), sha, Path(f"{workspace}-checks")))
