"""Verify one app's migrations on a throwaway database: up, down, up, drift, integrity; judge the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, from_command
from shipyard.config.apps import App
from shipyard.deps import Prepared
from shipyard.postgres import new_database, temporary_postgres
from shipyard.runner import CommandResult, run

DRIVER = Path(__file__).with_name("migration_driver.py")


@contextmanager
def throwaway_database(server_url: str | None) -> Iterator[str]:
    """A new, empty database: on the configured server, or on a temporary server started (and removed) here."""
    if server_url is None:
        with temporary_postgres() as url, new_database(url) as database:
            yield database
    else:
        with new_database(server_url) as database:
            yield database


def verify(spec: CheckSpec, app: App, prepared: Prepared, workspace: Path, sha: str, database_url: str,
           scratch: Path) -> CheckResult:  # fmt: skip
    assert app.migrations is not None
    with git.exported(workspace, sha, [app.path, *app.inputs], scratch / spec.slug) as folder:
        report_file = folder / "migrations-report.json"
        result = run(
            [prepared.python, str(DRIVER), app.migrations.config, app.migrations.url_env, str(report_file)],
            cwd=folder / app.path,
            env=prepared.env() | {app.migrations.url_env: database_url},
            timeout=spec.timeout,
            secrets=[sa.make_url(database_url).password or ""],
        )
        return judge(spec, result, _read(report_file))


def judge(spec: CheckSpec, result: CommandResult, report: dict[str, Any] | None) -> CheckResult:
    def verdict(status: Status, summary: str) -> CheckResult:
        return from_command(spec, result, status, summary)

    if result.timed_out:
        return verdict(Status.FAILED, f"migrations did not finish within {spec.timeout:g}s")
    if report is None:
        return verdict(Status.FAILED, f"the migration check exited {result.returncode} without a report")
    trouble = [f"{f['step']} failed at revision {f['revision']}: {f['error']}" for f in report.get("failures", [])]
    if "drift" in report:
        drift = report["drift"]
        trouble.append(f"schema drift at head {drift['head']}: " + "; ".join(drift["differences"]))
    trouble += report.get("problems", [])
    if trouble:
        return verdict(Status.FAILED, " | ".join(trouble))
    return verdict(Status.PASSED, "up, down, up, no drift: " + ", ".join(report.get("steps", [])))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None
