from __future__ import annotations

import datetime
from typing import Any

import pytest

from shipyard.checks.model import CheckSpec, Status
from shipyard.config.security import Security
from shipyard.security.findings import Finding
from shipyard.security.policy import verdict
from shipyard.security.scanners import ScanOutcome

TODAY = datetime.date(2026, 11, 27)
SPEC = CheckSpec.for_stage(
    "security", "security", "checkov", required=True, on_unavailable="fail", timeout=60, content_key="k"
)


def finding(rule: str, sev: str, file: str = "infra/k8s/api.yaml") -> Finding:
    return Finding("checkov", rule, sev, file, 3, f"{rule} title")


def judge(findings: list[Finding], **policy: Any) -> Any:
    return verdict(SPEC, ScanOutcome(tuple(findings)), Security(**policy), TODAY)


@pytest.mark.parametrize(
    ("severities", "fail_on", "status"),
    [
        ([], "high", Status.PASSED),
        (["medium", "low"], "high", Status.PASSED),
        (["high"], "high", Status.FAILED),
        (["critical"], "high", Status.FAILED),
        (["medium"], "medium", Status.FAILED),
        (["high"], "critical", Status.PASSED),
    ],
)
def test_findings_at_or_above_the_threshold_fail(severities: list[str], fail_on: str, status: Status) -> None:
    result = judge([finding(f"R{i}", s) for i, s in enumerate(severities)], fail_on=fail_on)
    assert result.status is status


def test_a_failure_names_each_blocking_finding() -> None:
    result = judge([finding("CKV_K8S_11", "high"), finding("CKV_K8S_43", "medium")])
    assert result.summary == "1 finding(s) at or above high: CKV_K8S_11 CKV_K8S_11 title (infra/k8s/api.yaml:3, high)"


def test_an_allowed_finding_passes_and_carries_its_reason() -> None:
    allow = [{"rule": "CKV_K8S_11", "reason": "limits set by the namespace LimitRange", "expires": "2027-01-01"}]
    result = judge([finding("CKV_K8S_11", "high")], allow=allow)
    assert result.status is Status.PASSED and result.summary == "no findings at or above high, 1 allowed"
    assert result.findings[0].allowed == "limits set by the namespace LimitRange"


def test_a_pass_names_the_findings_below_the_threshold() -> None:
    lockfile = Finding("shipyard", "lockfile-without-hashes", "medium", "apps/workers/requirements.lock", None, "m")
    result = judge([lockfile, *(finding(f"CKV_{i}", "low") for i in range(5))])
    assert result.status is Status.PASSED
    assert result.summary == (
        "no findings at or above high, 6 below: lockfile-without-hashes (apps/workers/requirements.lock); "
        "CKV_0 (infra/k8s/api.yaml:3); CKV_1 (infra/k8s/api.yaml:3); CKV_2 (infra/k8s/api.yaml:3); "
        "CKV_3 (infra/k8s/api.yaml:3); and 1 more"
    )
    allow = [{"rule": "CKV_K8S_11", "reason": "r", "expires": "2027-01-01"}]
    both = judge([finding("CKV_K8S_11", "high"), finding("CKV_K8S_43", "medium")], allow=allow)
    assert both.summary == "no findings at or above high, 1 allowed, 1 below: CKV_K8S_43 (infra/k8s/api.yaml:3)"


def test_an_expired_entry_fails_the_check_and_says_so() -> None:
    allow = [{"rule": "CKV_K8S_11", "reason": "until the LimitRange lands", "expires": "2026-11-27"}]
    result = judge([finding("CKV_K8S_11", "high")], allow=allow)
    assert result.status is Status.FAILED
    assert result.summary.startswith(
        "allow-list entry for CKV_K8S_11 expired on 2026-11-27 (until the LimitRange lands)"
    )


def test_an_expired_entry_fails_even_a_finding_below_the_threshold() -> None:
    allow = [{"rule": "CKV_K8S_43", "reason": "r", "expires": "2026-01-01"}]
    assert judge([finding("CKV_K8S_43", "medium")], allow=allow).status is Status.FAILED


def test_an_entry_with_a_path_only_covers_matching_files() -> None:
    allow = [{"rule": "CKV_K8S_11", "reason": "r", "expires": "2027-01-01", "path": "infra/k8s/jobs/*"}]
    assert judge([finding("CKV_K8S_11", "high")], allow=allow).status is Status.FAILED
    assert judge([finding("CKV_K8S_11", "high", "infra/k8s/jobs/x.yaml")], allow=allow).status is Status.PASSED


def test_config_severity_overrides_the_scanner() -> None:
    assert judge([finding("CKV_K8S_43", "medium")], severity={"CKV_K8S_43": "high"}).status is Status.FAILED
    assert judge([finding("CKV_K8S_11", "high")], severity={"CKV_K8S_11": "low"}).status is Status.PASSED


def test_unavailable_is_never_passed() -> None:
    result = verdict(SPEC, ScanOutcome(unavailable="checkov could not be installed"), Security(), TODAY)
    assert result.status is Status.UNAVAILABLE and result.summary == "checkov could not be installed"
    assert result.blocking  # on_unavailable: fail
