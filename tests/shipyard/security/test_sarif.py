"""The merged SARIF validates against the OASIS SARIF 2.1.0 schema (tests/data, from the OASIS errata01 release)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from shipyard.checks.model import CheckResult, CheckSpec, Status
from shipyard.security.findings import Finding
from shipyard.security.sarif import merged

SCHEMA = json.loads((Path(__file__).parents[2] / "data" / "sarif-schema-2.1.0.json").read_text())


def spec(check: str, stage: str = "security") -> CheckSpec:
    return CheckSpec.for_stage(
        stage, "security", check, required=True, on_unavailable="fail", timeout=1, content_key=""
    )


RESULTS = [
    CheckResult(
        spec("semgrep"),
        Status.FAILED,
        "",
        findings=(
            Finding("semgrep", "python-shell-injection", "high", "apps/w/a.py", 9, "Shell injection"),
            Finding("semgrep", "hardcoded-credential", "critical", "apps/w/a.py", 5, "Credential"),
        ),
    ),
    CheckResult(
        spec("checkov"),
        Status.PASSED,
        "",
        findings=(Finding("checkov", "CKV_K8S_43", "medium", "infra/k8s/api.yaml", None, "digest", allowed="pinned"),),
    ),
    CheckResult(spec("pip-audit"), Status.UNAVAILABLE, "vulnerability data unreachable"),
    CheckResult(spec("lint", stage="quality"), Status.PASSED, ""),
]


def test_merged_sarif_is_valid_2_1_0() -> None:
    log = merged(RESULTS)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"


def test_one_run_per_scanner_with_its_findings_rules_and_suppressions() -> None:
    runs = {run["tool"]["driver"]["name"]: run for run in merged(RESULTS)["runs"]}
    assert set(runs) == {"semgrep", "checkov", "pip-audit"}  # quality checks are not SARIF material
    semgrep = runs["semgrep"]
    assert [r["ruleId"] for r in semgrep["results"]] == ["python-shell-injection", "hardcoded-credential"]
    assert semgrep["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    assert {r["id"]: r["properties"]["security-severity"] for r in semgrep["tool"]["driver"]["rules"]} == {
        "hardcoded-credential": "9.5",
        "python-shell-injection": "8.0",
    }
    assert runs["checkov"]["results"][0]["suppressions"] == [{"kind": "external", "justification": "pinned"}]


def test_an_unavailable_scanner_is_a_failed_invocation_not_an_empty_clean_run() -> None:
    run = next(r for r in merged(RESULTS)["runs"] if r["tool"]["driver"]["name"] == "pip-audit")
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == "vulnerability data unreachable"


def test_the_schema_check_does_reject_a_malformed_log() -> None:
    log = merged(RESULTS)
    log["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    errors = list(jsonschema.Draft4Validator(SCHEMA).iter_errors(log))
    assert errors
