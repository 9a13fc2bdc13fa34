"""One SARIF 2.1.0 log for a run: a run per scanner, ready for GitHub code scanning upload."""

from __future__ import annotations

from typing import Any

from shipyard.checks.model import CheckResult, Status
from shipyard.security.findings import Finding

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning orders alerts by this property (CVSS-like scores).
_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}


def merged(results: list[CheckResult]) -> dict[str, Any]:
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [_run(r) for r in results if r.spec.stage == "security"]}


def _run(result: CheckResult) -> dict[str, Any]:
    rules = {f.rule: f for f in result.findings}
    invocation: dict[str, Any] = {"executionSuccessful": result.status is not Status.UNAVAILABLE}
    if result.status is Status.UNAVAILABLE:
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": result.summary}}]
    return {
        "tool": {
            "driver": {
                "name": result.spec.check,
                "rules": [_rule(rule, f) for rule, f in sorted(rules.items())],
            }
        },
        "automationDetails": {"id": f"shipyard/{result.spec.check}/"},
        "invocations": [invocation],
        "results": [_result(f) for f in result.findings],
    }


def _rule(rule: str, example: Finding) -> dict[str, Any]:
    return {
        "id": rule,
        "shortDescription": {"text": example.message[:1000] or rule},
        "properties": {"security-severity": _SCORE[example.severity], "tags": ["security", example.tool]},
    }


def _result(finding: Finding) -> dict[str, Any]:
    region = {"startLine": finding.line} if finding.line else {}
    location: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
    if region:
        location["region"] = region
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message or finding.rule},
        "locations": [{"physicalLocation": location}],
        "properties": {"severity": finding.severity, "tool": finding.tool},
    }
    if finding.allowed:
        out["suppressions"] = [{"kind": "external", "justification": finding.allowed}]
    return out
