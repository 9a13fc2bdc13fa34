"""Each scanner's own output turned into findings; a scanner that could not do its job raises ScannerUnavailable.

Pure functions of a CommandResult, so they are table-tested on recorded outputs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.runner import CommandResult
from shipyard.security.findings import Finding, mask_literals, severity


class ScannerUnavailable(ShipyardError):
    """The scanner did not run, crashed, or could not reach the data it needs: never a pass."""


_URL = re.compile(r"\w+://\S+")


def reason(text: str) -> str:
    """A one-line reason for a report; addresses are dropped (they say nothing the reader can act on)."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "no output")
    return _URL.sub("<endpoint>", line)[:300]


def _json(result: CommandResult, tool: str) -> Any:
    if result.timed_out:
        raise ScannerUnavailable(f"{tool} timed out")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ScannerUnavailable(
            f"{tool} exited {result.returncode} without a report: {reason(result.stderr or result.stdout)}"
        ) from None


def _relative(path: str) -> str:
    return path.removeprefix("./").lstrip("/")


def semgrep(result: CommandResult) -> list[Finding]:
    report = _json(result, "semgrep")
    fatal = [e for e in report.get("errors", []) if e.get("level") == "error"]
    if fatal or result.returncode not in (0, 1):
        detail = fatal[0].get("message", "") if fatal else result.stderr
        raise ScannerUnavailable(f"semgrep exited {result.returncode}: {reason(detail)}")
    return [
        Finding(
            tool="semgrep",
            rule=r["check_id"].rsplit(".", 1)[-1],  # semgrep prefixes the rule file's folder
            severity=severity(r["extra"].get("metadata", {}).get("shipyard-severity") or r["extra"].get("severity")),
            file=_relative(r["path"]),
            line=r["start"]["line"],
            message=r["extra"]["message"].strip(),
        )
        for r in report.get("results", [])
    ]


def trivy_results(result: CommandResult, key: str, make: Any) -> list[Finding]:
    if result.returncode not in (0, 3):  # 3 is our --exit-code for "found something"
        raise ScannerUnavailable(f"trivy exited {result.returncode}: {reason(result.stderr)}")
    report = _json(result, "trivy")
    return [make(target["Target"], item) for target in report.get("Results") or [] for item in target.get(key) or []]


def trivy_secrets(result: CommandResult) -> list[Finding]:
    def make(target: str, s: dict[str, Any]) -> Finding:
        return Finding("trivy", s["RuleID"], severity(s.get("Severity")), target, s.get("StartLine"), s["Title"])

    return trivy_results(result, "Secrets", make)


def trivy_config(result: CommandResult) -> list[Finding]:
    def make(target: str, m: dict[str, Any]) -> Finding:
        line = (m.get("CauseMetadata") or {}).get("StartLine") or None
        return Finding("trivy", m["ID"], severity(m.get("Severity")), target, line, m["Title"])

    return trivy_results(result, "Misconfigurations", make)


# Open-source checkov reports no severities; these follow the platform's own rules (limits, non-root, no
# privilege escalation). Everything else is medium unless security.severity in the config says otherwise.
CHECKOV_SEVERITY = {
    "CKV_K8S_11": "high",  # CPU limits
    "CKV_K8S_13": "high",  # memory limits
    "CKV_K8S_16": "critical",  # privileged container
    "CKV_K8S_20": "high",  # allowPrivilegeEscalation
    "CKV_K8S_23": "high",  # root containers
    "CKV_DOCKER_8": "high",  # last USER is root
    "CKV_DOCKER_2": "low",  # HEALTHCHECK
}


def checkov(result: CommandResult) -> list[Finding]:
    if result.returncode not in (0, 1):
        raise ScannerUnavailable(f"checkov exited {result.returncode}: {reason(result.stderr)}")
    report = _json(result, "checkov")
    blocks = report if isinstance(report, list) else [report]
    return [
        Finding(
            tool="checkov",
            rule=f["check_id"],
            severity=severity(f.get("severity"), CHECKOV_SEVERITY.get(f["check_id"], "medium")),
            file=_relative(f["file_path"]),
            line=(f.get("file_line_range") or [None])[0] or None,
            message=f["check_name"],
        )
        for block in blocks
        for f in (block.get("results") or {}).get("failed_checks", [])
    ]


_HADOLINT_LEVELS = {"error": "high", "warning": "medium", "info": "low", "style": "low"}


def hadolint(result: CommandResult) -> list[Finding]:
    if result.returncode not in (0, 1):
        raise ScannerUnavailable(f"hadolint exited {result.returncode}: {reason(result.stderr)}")
    return [
        Finding("hadolint", f["code"], _HADOLINT_LEVELS.get(f["level"], "medium"), f["file"], f["line"], f["message"])
        for f in _json(result, "hadolint")
    ]


_INVALID = re.compile(
    r"^ERROR (?P<file>\S+) did not validate for resource (?P<resource>\S+) against version \S+: (?P<why>.*)$"
)


def kubernetes_validate(result: CommandResult, root: str) -> list[Finding]:
    findings = [
        Finding(
            "kubernetes-validate",
            "schema",
            "high",
            _relative(m["file"].removeprefix(root)),
            None,
            f"{m['resource']}: {m['why']}",
        )
        for m in map(_INVALID.match, result.stdout.splitlines() + result.stderr.splitlines())
        if m
    ]
    if result.returncode != 0 and not findings:
        detail = reason(result.stderr + result.stdout)
        raise ScannerUnavailable(f"kubernetes-validate exited {result.returncode}: {detail}")
    return findings


def bandit(result: CommandResult) -> list[Finding]:
    report = _json(result, "bandit")
    if result.returncode not in (0, 1) or report.get("errors"):
        detail = report["errors"][0].get("reason", "") if report.get("errors") else result.stderr
        raise ScannerUnavailable(f"bandit could not scan: {reason(detail)}")
    return [
        Finding(
            tool="bandit",
            rule=r["test_id"],
            severity=severity(r["issue_severity"]),
            file=_relative(r["filename"]),
            line=r["line_number"],
            message=mask_literals(r["issue_text"]),
        )
        for r in report.get("results", [])
    ]


def pip_audit(result: CommandResult, lockfile: str) -> list[Finding]:
    """Run with --strict: without it a dependency it could not look up is silently reported as clean."""
    if result.returncode != 0:
        problems = [line for line in result.stderr.splitlines() if "ERROR" in line or "could not" in line.lower()]
        if problems or not result.stdout.strip():
            detail = problems[-1].split(":", 2)[-1] if problems else result.stderr
            raise ScannerUnavailable(f"vulnerability data unreachable for {lockfile}: {reason(detail)}")
    report = _json(result, "pip-audit")
    return [
        Finding(
            tool="pip-audit",
            rule=v["id"],
            severity="high",  # pip-audit gives no severity: a known vulnerability counts as high
            file=lockfile,
            line=None,
            message=f"{d['name']} {d['version']}: {v['id']}"
            + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else ""),
        )
        for d in report.get("dependencies", [])
        for v in d.get("vulns", [])
    ]


def npm_audit(result: CommandResult, lockfile: str) -> list[Finding]:
    """npm exits 1 both for "vulnerabilities found" and for "could not ask": only the JSON tells them apart."""
    report = _json(result, "npm audit")
    if "vulnerabilities" not in report:
        error = report.get("error") or {}
        detail = error.get("summary") or report.get("message") or result.stderr
        raise ScannerUnavailable(f"vulnerability data unreachable for {lockfile}: {reason(str(detail))}")
    return [
        Finding(
            tool="npm-audit",
            rule=_advisory(v) or name,
            severity=severity(v.get("severity")),
            file=lockfile,
            line=None,
            message=f"{name} {v.get('range', '')}: {_advisory_title(v) or 'vulnerable'}".strip(),
        )
        for name, v in sorted(report["vulnerabilities"].items())
    ]


def _advisory(v: dict[str, Any]) -> str | None:
    via = [item for item in v.get("via", []) if isinstance(item, dict)]
    return str(via[0].get("url", "")).rsplit("/", 1)[-1] or None if via else None


def _advisory_title(v: dict[str, Any]) -> str | None:
    via = [item for item in v.get("via", []) if isinstance(item, dict)]
    return str(via[0].get("title")) if via else None
