"""Task of the database stage: verify one app's migrations on a throwaway PostgreSQL."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from prefect import task
from prefect.client.schemas.objects import State

from shipyard.checks.model import CheckResult, CheckSpec, Status, not_run
from shipyard.config.apps import App
from shipyard.config.database import DatabaseChecks
from shipyard.database.verify import throwaway_database, verify
from shipyard.home import Home
from shipyard.postgres import PostgresUnavailable
from tasks.policy import by_content, check_state
from tasks.quality import prepare_app


@task(
    task_run_name="migrations {spec.app}",
    cache_key_fn=by_content("migrations"),
    cache_expiration=timedelta(days=14),
    persist_result=True,
)
def verify_migrations(
    spec: CheckSpec, app: App, settings: DatabaseChecks, workspace: str, sha: str, home: Home
) -> CheckResult | State:
    """The server and its data folder are gone when this returns, whatever happened inside."""
    prepared = prepare_app(spec, app, workspace, sha, home)
    if isinstance(prepared, CheckResult):
        return check_state(prepared)
    try:
        with throwaway_database(os.environ.get(settings.server_url_env)) as url:
            result = verify(spec, app, prepared, Path(workspace), sha, url, Path(f"{workspace}-checks"))
    except PostgresUnavailable as exc:
        result = not_run(spec, Status.UNAVAILABLE, f"PostgreSQL: {exc}")
    return check_state(result)
