"""Tasks of the security stage: run one scanner; merge every scanner's findings into one SARIF log."""

from __future__ import annotations

import datetime
import json
from datetime import timedelta
from pathlib import Path

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import State

from shipyard.checks.model import CheckResult, CheckSpec
from shipyard.config.security import Security
from shipyard.home import Home
from shipyard.security import sarif
from shipyard.security.policy import verdict
from shipyard.security.scanners import SCANNERS, ScanTarget, scan
from tasks.policy import by_content, check_state


@task(
    task_run_name="scan {spec.check}",
    cache_key_fn=by_content("scan"),
    cache_expiration=timedelta(days=1),
    persist_result=True,
)
def run_scanner(spec: CheckSpec, target: ScanTarget, policy: Security, reports: str, home: Home) -> CheckResult | State:
    """Scanning never retries: a finding is real, and a scanner that cannot run says why ("unavailable")."""
    outcome = scan(SCANNERS[spec.check], target, spec.timeout, home.tools)
    raw = Path(reports) / "security" / f"{spec.check}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(outcome.raw, indent=1))
    return check_state(verdict(spec, outcome, policy, datetime.date.today()))


@task(name="publish-sarif", task_run_name="publish SARIF")
def publish_sarif(results: list[CheckResult], reports: str) -> str:
    """One SARIF 2.1.0 file for the run (code scanning upload) and a table of every finding."""
    path = Path(reports) / "security.sarif"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sarif.merged(results), indent=1))
    rows = [
        {
            "scanner": r.spec.check,
            "rule": f.rule,
            "severity": f.severity,
            "where": f.where,
            "message": f.message,
            "allowed": f.allowed or "",
        }
        for r in results
        for f in r.findings
    ]
    rows += [
        {"scanner": r.spec.check, "rule": "-", "severity": "-", "where": "-", "message": f"unavailable: {r.summary}",
         "allowed": ""}
        for r in results
        if r.status.value == "unavailable"
    ]  # fmt: skip
    create_table_artifact(key="security-findings", table=rows, description=f"{len(rows)} finding(s); SARIF: {path}")
    return str(path)
