"""Task of the docs stage: generate an app's API docs into the run's report folder."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_link_artifact
from prefect.client.schemas.objects import State

from shipyard.apidocs.generate import generate
from shipyard.checks.model import CheckResult, CheckSpec, Status
from shipyard.config.apps import App
from shipyard.home import Home
from tasks.policy import check_state
from tasks.quality import prepare_app


@task(task_run_name="docs {spec.app}")
def build_docs(spec: CheckSpec, app: App, workspace: str, sha: str, reports: str, home: Home) -> CheckResult | State:
    """Not cached: the page belongs in this run's report folder."""
    prepared = prepare_app(spec, app, workspace, sha, home)
    if isinstance(prepared, CheckResult):
        return check_state(prepared)
    out = Path(reports) / "docs" / spec.app
    result = generate(spec, app, prepared, Path(workspace), sha, Path(f"{workspace}-checks"), out)
    if result.status is Status.PASSED:
        create_link_artifact(
            key=f"api-docs-{spec.app}",
            link=(out / "index.html").as_uri(),
            link_text=f"{spec.app} API docs",
            description=f"{result.summary}; OpenAPI document: {out / 'openapi.json'}",
        )
    return check_state(result)
