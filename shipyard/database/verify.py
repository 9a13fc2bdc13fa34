"""Verify one app's migrations on a throwaway database: up, down, up, drift, integrity; judge the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, from_command, not_run
from shipyard.config.apps import App
from shipyard.deps import Prepared
from shipyard.egress import Endpoint, egress
from shipyard.postgres import new_database, temporary_postgres
from shipyard.runner import CommandResult, run
from shipyard.sandbox import SandboxUnavailable, read_back, sandboxed, temporary_beside

DRIVER = Path(__file__).with_name("migration_driver.py")


@contextmanager
def throwaway_database(server_url: str | None) -> Iterator[str]:
    """A new, empty database: on the configured server, or on a temporary server started (and removed) here; the
    URL names a role of its own, so the migrations under check never hold the server's credentials."""
    if server_url is None:
        with temporary_postgres() as url, new_database(url, own_role=True) as database:
            yield database
    else:
        with new_database(server_url, own_role=True) as database:
            yield database


def verify(spec: CheckSpec, app: App, prepared: Prepared, workspace: Path, sha: str, database_url: str,
           scratch: Path) -> CheckResult:  # fmt: skip
    """Run the driver on the app's migrations in the app's sandbox, whose only way out is a tunnel to the database
    (the same port on the sandbox's own loopback, so the URL the app gets names 127.0.0.1)."""
    assert app.migrations is not None
    url = sa.make_url(database_url)
    port = url.port or 5432
    inside = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    exported = git.exported(workspace, sha, [app.path, *app.inputs], scratch / spec.slug)
    with exported as folder, temporary_beside(folder) as temp:
        written = temp / "migrations-report.json"
        command = [prepared.python, str(DRIVER), app.migrations.config, app.migrations.url_env, str(written)]
        try:
            with egress(frozenset(), {port: Endpoint(url.host or "127.0.0.1", port)}) as gate:
                sandbox = prepared.sandbox((folder,), temp, readable=(DRIVER,), egress=gate,
                                           env={app.migrations.url_env: inside})  # fmt: skip
                argv = sandboxed(sandbox, command, folder / app.path)
                result = run(argv, timeout=spec.timeout, secrets=[url.password or ""])
        except SandboxUnavailable as exc:
            return not_run(spec, Status.UNAVAILABLE, str(exc))
        return judge(spec, result, _report(read_back(written, temp)))


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


def _report(written: bytes | None) -> dict[str, Any] | None:
    try:
        value = json.loads(written or b"")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
