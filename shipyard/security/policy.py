"""The security policy: which findings fail their scanner's check, which are accepted and until when."""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Callable
from dataclasses import replace

from shipyard.checks.model import CheckResult, CheckSpec, Status
from shipyard.config.security import AllowedFinding, Security
from shipyard.security.findings import Finding, at_least
from shipyard.security.scanners import ScanOutcome

LISTED = 5


def verdict(spec: CheckSpec, outcome: ScanOutcome, policy: Security, today: datetime.date) -> CheckResult:
    def result(status: Status, summary: str, findings: tuple[Finding, ...] = ()) -> CheckResult:
        return CheckResult(spec, status, summary, outcome.duration, findings=findings)

    if outcome.unavailable:
        return result(Status.UNAVAILABLE, outcome.unavailable)
    findings = tuple(_judged(f, policy, today) for f in outcome.findings)
    expired = [(f, entry) for f in findings if (entry := _expired_entry(f, policy, today))]
    blocking = [f for f in findings if at_least(f.severity, policy.fail_on) and f.allowed is None]
    if expired:
        f, entry = expired[0]
        why = f"allow-list entry for {entry.rule} expired on {entry.expires} ({entry.reason}): {f.describe()}"
        return result(Status.FAILED, "; ".join([why, *_listed(blocking)]), findings)
    if blocking:
        head = f"{len(blocking)} finding(s) at or above {policy.fail_on}: "
        return result(Status.FAILED, head + "; ".join(_listed(blocking)), findings)
    allowed = sum(1 for f in findings if f.allowed)
    below = [f for f in findings if not f.allowed]
    parts = [f"no findings at or above {policy.fail_on}"]
    parts += [f"{allowed} allowed"] if allowed else []
    # named, not only counted: the summary is where a finding that does not block gets seen
    parts += [f"{len(below)} below: " + "; ".join(_listed(below, lambda f: f"{f.rule} ({f.where})"))] if below else []
    if outcome.note:
        parts = [outcome.note]
    return result(Status.PASSED, ", ".join(parts), findings)


def _listed(findings: list[Finding], describe: Callable[[Finding], str] = Finding.describe) -> list[str]:
    shown = [describe(f) for f in findings[:LISTED]]
    return shown + ([f"and {len(findings) - LISTED} more"] if len(findings) > LISTED else [])


def _judged(finding: Finding, policy: Security, today: datetime.date) -> Finding:
    severity = policy.severity.get(finding.rule, finding.severity)
    entry = _entry(finding, policy)
    accepted = entry.reason if entry is not None and today < entry.expires else None
    return replace(finding, severity=severity, allowed=accepted)


def _expired_entry(finding: Finding, policy: Security, today: datetime.date) -> AllowedFinding | None:
    entry = _entry(finding, policy)
    return entry if entry is not None and today >= entry.expires else None


def _entry(finding: Finding, policy: Security) -> AllowedFinding | None:
    return next(
        (
            e
            for e in policy.allow
            if e.rule == finding.rule and (e.path is None or fnmatch.fnmatchcase(finding.file, e.path))
        ),
        None,
    )
