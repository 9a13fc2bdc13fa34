"""What a check is, what it produced, and the pure rules that turn a tool's exit into a verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from shipyard.runner import CommandResult
from shipyard.security.findings import Finding

TAIL_LINES = 40


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"  # the tool could not run: never counted as passed
    SKIPPED = "skipped"  # not run because something it needs failed first


@dataclass(frozen=True)
class CheckSpec:
    app: str
    check: str
    toolchain: str
    kind: str
    version: str
    app_path: str
    paths: tuple[str, ...]
    command: str
    timeout: float
    required: bool
    on_unavailable: str
    junit: str | None
    coverage_report: str | None
    coverage_min: float | None
    content_key: str
    stage: str = "quality"

    @classmethod
    def for_stage(
        cls,
        stage: str,
        app: str,
        check: str,
        *,
        required: bool,
        on_unavailable: str,
        timeout: float,
        content_key: str,
        toolchain: str = "",
        command: str = "",
    ) -> CheckSpec:
        """A check of a stage other than quality: no toolchain matrix, no coverage gate."""
        return cls(
            app, check, toolchain, "", "", "", (), command, timeout, required, on_unavailable,
            None, None, None, content_key, stage,
        )  # fmt: skip

    @property
    def name(self) -> str:
        return "/".join(part for part in (self.app, self.check, self.toolchain) if part)

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")


@dataclass(frozen=True)
class CheckResult:
    spec: CheckSpec
    status: Status
    summary: str
    duration: float = 0.0
    tail: str = ""
    coverage: float | None = None
    tool_junit: str | None = None
    cached: bool = False
    findings: tuple[Finding, ...] = ()
    details: tuple[tuple[str, str], ...] = ()  # stage-specific figures (image sizes...), for reports

    @property
    def blocking(self) -> bool:
        if not self.spec.required:
            return False
        if self.status is Status.UNAVAILABLE:
            return self.spec.on_unavailable == "fail"
        return self.status in (Status.FAILED, Status.SKIPPED)

    def as_cached(self) -> CheckResult:
        return replace(self, cached=True)


def judge(
    spec: CheckSpec, result: CommandResult, coverage: float | None = None, tool_junit: str | None = None
) -> CheckResult:
    """The verdict on one run of a check's command (and its coverage report, when it has a gate)."""

    def verdict(status: Status, summary: str) -> CheckResult:
        return from_command(spec, result, status, summary, coverage=coverage, tool_junit=tool_junit)

    if result.timed_out:
        return verdict(Status.FAILED, f"timed out after {spec.timeout:g}s")
    missing = _missing_tool(result)
    if missing:
        return verdict(Status.UNAVAILABLE, f"tool not available: {missing}")
    if result.returncode != 0:
        return verdict(Status.FAILED, f"exit code {result.returncode}")
    if spec.coverage_min is None:
        return verdict(Status.PASSED, "")
    if coverage is None:
        return verdict(Status.FAILED, f"coverage report {spec.coverage_report} was not written")
    if coverage < spec.coverage_min:
        return verdict(Status.FAILED, f"coverage {coverage:.1f}% is below the {spec.coverage_min:g}% gate")
    return verdict(Status.PASSED, f"coverage {coverage:.1f}% (gate {spec.coverage_min:g}%)")


def from_command(
    spec: CheckSpec,
    result: CommandResult,
    status: Status,
    summary: str,
    coverage: float | None = None,
    tool_junit: str | None = None,
) -> CheckResult:
    """A verdict on a check that ran a command: its time and the tail of its output come with it."""
    return CheckResult(spec, status, summary, result.duration, result.tail(TAIL_LINES), coverage, tool_junit)


def not_run(spec: CheckSpec, status: Status, reason: str) -> CheckResult:
    return CheckResult(spec, status, reason)


_NOT_FOUND = re.compile(r"(?:^|\s)(?:\S+: )?(?:line \d+: |\d+: )?(?P<tool>[\w.+-]+): (?:command )?not found", re.M)


def _missing_tool(result: CommandResult) -> str | None:
    """Shells exit 127 when the command is not installed; that is 'unavailable', not a failed check."""
    if result.returncode != 127:
        return None
    match = _NOT_FOUND.search(result.stderr) or _NOT_FOUND.search(result.stdout)
    return f"{match['tool']}: command not found" if match else "command not found (exit 127)"
