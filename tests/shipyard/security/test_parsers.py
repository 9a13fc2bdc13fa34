"""Each scanner's output (shapes recorded from the pinned versions) read into findings or 'unavailable'."""

from __future__ import annotations

import json

import pytest

from shipyard.runner import CommandResult
from shipyard.security import parsers
from shipyard.security.findings import Finding, mask_literals, severity
from shipyard.security.parsers import ScannerUnavailable


def result(stdout: object = "", code: int = 0, stderr: str = "", timed_out: bool = False) -> CommandResult:
    text = stdout if isinstance(stdout, str) else json.dumps(stdout)
    return CommandResult(("tool",), code, text, stderr, 1.0, timed_out)


SEMGREP = {
    "results": [
        {
            "check_id": "tmp.rules.python-shell-injection",
            "path": "apps/workers/workers/archive.py",
            "start": {"line": 9, "col": 5},
            "extra": {"severity": "ERROR", "message": "Shell injection ", "metadata": {"shipyard-severity": "high"}},
        },
        {
            "check_id": "python-eval",
            "path": "./a.py",
            "start": {"line": 2},
            "extra": {"severity": "WARNING", "message": "eval"},
        },
    ],
    "errors": [],
}


def test_semgrep_findings_drop_the_rule_file_prefix_and_use_our_severity() -> None:
    assert parsers.semgrep(result(SEMGREP, 0)) == [
        Finding("semgrep", "python-shell-injection", "high", "apps/workers/workers/archive.py", 9, "Shell injection"),
        Finding("semgrep", "python-eval", "medium", "a.py", 2, "eval"),
    ]


def test_semgrep_with_a_broken_rule_file_is_unavailable() -> None:
    report = {"results": [], "errors": [{"level": "error", "message": "Invalid rule schema"}]}
    with pytest.raises(ScannerUnavailable, match="semgrep exited 7: Invalid rule schema"):
        parsers.semgrep(result(report, 7))


TRIVY_SECRETS = {
    "Results": [
        {
            "Target": "apps/workers/workers/archive.py",
            "Secrets": [
                {
                    "RuleID": "github-pat",
                    "Severity": "CRITICAL",
                    "StartLine": 5,
                    "Title": "GitHub Personal Access Token",
                }
            ],
        }
    ]
}


def test_trivy_secrets_exit_3_means_found() -> None:
    [finding] = parsers.trivy_secrets(result(TRIVY_SECRETS, 3))
    assert finding == Finding(
        "trivy", "github-pat", "critical", "apps/workers/workers/archive.py", 5, "GitHub Personal Access Token"
    )


def test_trivy_with_nothing_found_has_no_results_key() -> None:
    assert parsers.trivy_config(result({"SchemaVersion": 2}, 0)) == []


def test_trivy_config_reads_misconfigurations() -> None:
    report = {
        "Results": [
            {
                "Target": "infra/docker/api.Dockerfile",
                "Misconfigurations": [
                    {"ID": "DS-0002", "Severity": "HIGH", "Title": "Image user should not be 'root'",
                     "CauseMetadata": {"StartLine": 19}},
                    {"ID": "DS-0026", "Severity": "LOW", "Title": "No HEALTHCHECK defined", "CauseMetadata": {}},
                ],
            }
        ]
    }  # fmt: skip
    findings = parsers.trivy_config(result(report, 3))
    assert [(f.rule, f.severity, f.line) for f in findings] == [("DS-0002", "high", 19), ("DS-0026", "low", None)]


def test_trivy_crashing_is_unavailable_not_clean() -> None:
    with pytest.raises(ScannerUnavailable, match="trivy exited 1: FATAL"):
        parsers.trivy_secrets(result("", 1, "FATAL fs scan error"))


def test_checkov_has_no_severities_so_the_platform_rules_give_them() -> None:
    report = [
        {
            "check_type": "kubernetes",
            "results": {
                "failed_checks": [
                    {"check_id": "CKV_K8S_11", "severity": None, "file_path": "/infra/k8s/api.yaml",
                     "file_line_range": [3, 70], "check_name": "CPU limits should be set"},
                    {"check_id": "CKV_K8S_43", "severity": None, "file_path": "/infra/k8s/api.yaml",
                     "file_line_range": [3, 70], "check_name": "Image should use digest"},
                ]
            },
        },
        {"check_type": "dockerfile", "results": {"failed_checks": []}},
    ]  # fmt: skip
    findings = parsers.checkov(result(report, 1))
    assert [(f.rule, f.severity, f.file, f.line) for f in findings] == [
        ("CKV_K8S_11", "high", "infra/k8s/api.yaml", 3),
        ("CKV_K8S_43", "medium", "infra/k8s/api.yaml", 3),
    ]


def test_checkov_summary_only_output_means_nothing_failed() -> None:
    assert parsers.checkov(result({"passed": 0, "failed": 0, "skipped": 0}, 0)) == []


def test_hadolint_levels() -> None:
    report = [
        {"code": "DL3002", "level": "warning", "file": "api.Dockerfile", "line": 4, "message": "Last USER root"},
        {"code": "DL3008", "level": "error", "file": "api.Dockerfile", "line": 2, "message": "Pin versions"},
    ]
    assert [(f.rule, f.severity) for f in parsers.hadolint(result(report, 1))] == [
        ("DL3002", "medium"),
        ("DL3008", "high"),
    ]


def test_kubernetes_validate_names_the_resource_and_the_unknown_field() -> None:
    out = (
        "ERROR /w/repo/infra/k8s/svc.yaml did not validate for resource service/api against version 1.30: "
        "spec: Additional properties are not allowed ('selectr' was unexpected)\n"
    )
    [finding] = parsers.kubernetes_validate(result(out, 1), root="/w/repo/")
    assert finding.file == "infra/k8s/svc.yaml" and finding.severity == "high"
    assert finding.message == "service/api: spec: Additional properties are not allowed ('selectr' was unexpected)"


def test_kubernetes_validate_failing_without_a_finding_is_unavailable() -> None:
    with pytest.raises(ScannerUnavailable, match=r"version 1\.99 not supported"):
        parsers.kubernetes_validate(result("", 1, "version 1.99 not supported"), root="/")


def test_bandit_masks_the_secret_it_quotes() -> None:
    report = {
        "errors": [],
        "results": [
            {"test_id": "B105", "issue_severity": "LOW", "filename": "./apps/a.py", "line_number": 5,
             "issue_text": "Possible hardcoded password: 'ghp_Zq7Rk2LmW9sXv4TnB8yHc1JdF6gPe3Ua5NoQ'"},
            {"test_id": "B602", "issue_severity": "HIGH", "filename": "apps/a.py", "line_number": 9,
             "issue_text": "subprocess call with shell=True identified, security issue."},
        ],
    }  # fmt: skip
    findings = parsers.bandit(result(report, 1))
    assert findings[0].message == "Possible hardcoded password: '***'"
    assert (findings[1].rule, findings[1].severity, findings[1].file) == ("B602", "high", "apps/a.py")


PIP_AUDIT_OFFLINE = (
    "WARNING:pip_audit._cli:--no-deps is supported, but users are encouraged to fully hash their pinned dependencies\n"
    "ERROR:pip_audit._cli:alembic: Dependency not found on PyPI and could not be audited: alembic (1.20.1)\n"
)


def test_pip_audit_that_could_not_look_anything_up_is_unavailable_with_the_reason() -> None:
    with pytest.raises(ScannerUnavailable) as caught:
        parsers.pip_audit(result("", 1, PIP_AUDIT_OFFLINE), "apps/api/requirements.lock")
    assert str(caught.value) == (
        "vulnerability data unreachable for apps/api/requirements.lock: "
        "alembic: Dependency not found on PyPI and could not be audited: alembic (1.20.1)"
    )


def test_pip_audit_vulnerabilities_are_findings() -> None:
    report = {
        "dependencies": [
            {"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-2019-1", "fix_versions": ["2.10.1"]}]},
            {"name": "click", "version": "8.1", "vulns": []},
        ]
    }
    [finding] = parsers.pip_audit(result(report, 1), "req.lock")
    assert finding == Finding(
        "pip-audit", "PYSEC-2019-1", "high", "req.lock", None, "jinja2 2.0: PYSEC-2019-1 (fixed in 2.10.1)"
    )


def test_npm_audit_exit_1_without_data_is_unavailable_and_drops_the_endpoint() -> None:
    report = {"message": "405 Method Not Allowed - POST https://example.invalid/-/npm/v1/security/advisories/bulk",
              "method": "POST"}  # fmt: skip
    with pytest.raises(ScannerUnavailable) as caught:
        parsers.npm_audit(result(report, 1), "apps/web/package-lock.json")
    assert str(caught.value) == (
        "vulnerability data unreachable for apps/web/package-lock.json: 405 Method Not Allowed - POST <endpoint>"
    )


def test_npm_audit_exit_1_with_vulnerabilities_is_findings() -> None:
    report = {
        "vulnerabilities": {
            "minimist": {"severity": "critical", "range": "<1.2.6",
                         "via": [{"title": "Prototype Pollution", "url": "https://github.com/advisories/GHSA-xvch"}]},
        }
    }  # fmt: skip
    [finding] = parsers.npm_audit(result(report, 1), "lock")
    assert (finding.rule, finding.severity, finding.message) == (
        "GHSA-xvch",
        "critical",
        "minimist <1.2.6: Prototype Pollution",
    )


def test_a_tool_that_timed_out_is_unavailable() -> None:
    with pytest.raises(ScannerUnavailable, match="bandit timed out"):
        parsers.bandit(result("", -9, timed_out=True))


@pytest.mark.parametrize(
    ("word", "expected"),
    [("CRITICAL", "critical"), ("ERROR", "high"), ("warning", "medium"), ("moderate", "medium"), (None, "medium"),
     ("INFO", "info"), ("note", "low")],
)  # fmt: skip
def test_severity_words(word: str | None, expected: str) -> None:
    assert severity(word) == expected


def test_mask_literals_keeps_short_words() -> None:
    assert mask_literals("use 'id' not \"hunter2secret\"") == "use 'id' not \"***\""
