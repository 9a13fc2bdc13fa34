"""The one summary of a checks run: gate, table rows, failure details, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from shipyard.checks.model import CheckResult, Status
from shipyard.errors import ShipyardError

_MARK = {Status.PASSED: "✅", Status.FAILED: "❌", Status.UNAVAILABLE: "⚠️", Status.SKIPPED: "⏭️"}


@dataclass(frozen=True)
class Summary:
    results: tuple[CheckResult, ...]

    @property
    def blocking(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocking]

    @property
    def passed(self) -> bool:
        return not self.blocking

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def headline(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s.value}" for s in Status if self.count(s))
        if self.passed:
            others = [f"{r.spec.name} ({r.status.value})" for r in self.results if r.status is not Status.PASSED]
            if not others:
                return f"all checks passed ({counts})"
            return f"no required check blocked ({counts}); did not pass: {', '.join(others)}"
        names = ", ".join(f"{r.spec.name} ({r.status.value}: {r.summary})" for r in self.blocking)
        return f"{len(self.blocking)} required check(s) did not pass ({counts}): {names}"

    def table(self) -> list[dict[str, str]]:
        return [
            {
                "app": r.spec.app,
                "check": r.spec.check,
                "toolchain": r.spec.toolchain,
                "status": r.status.value + (" (cached)" if r.cached else ""),
                "required": "yes" if r.spec.required else "no",
                "duration": f"{r.duration:.1f}s",
                "detail": r.summary,
            }
            for r in self.results
        ]

    def markdown(self) -> str:
        lines = [f"## Checks: {self.headline()}", ""]
        trouble = [r for r in self.results if r.status is not Status.PASSED]
        for r in trouble:
            lines += [f"### {_MARK[r.status]} {r.spec.name}: {r.status.value}", "", r.summary or "", ""]
            if r.tail:
                lines += ["```", r.tail, "```", ""]
        if not trouble:
            lines.append("Every check passed.")
        return "\n".join(lines)


def write_junit(summary: Summary, folder: Path) -> list[Path]:
    """One JUnit file per check (plus the tool's own, when it wrote one), grouped by app."""
    written = []
    for r in summary.results:
        target = folder / r.spec.app / f"{'-'.join(filter(None, (r.spec.check, r.spec.toolchain)))}.xml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(junit_xml(r))
        written.append(target)
        if r.tool_junit:
            tool_file = target.with_suffix(".tests.xml")
            tool_file.write_text(r.tool_junit)
            written.append(tool_file)
    return written


def junit_xml(result: CheckResult) -> str:
    failed = result.status in (Status.FAILED, Status.SKIPPED)
    errored = result.status is Status.UNAVAILABLE
    suite = ET.Element(
        "testsuite",
        name=f"{result.spec.stage}.{result.spec.app}",
        tests="1",
        failures=str(int(failed)),
        errors=str(int(errored)),
        time=f"{result.duration:.3f}",
    )
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{result.spec.app}.{result.spec.toolchain}",
        name=result.spec.check,
        time=f"{result.duration:.3f}",
    )
    if failed or errored:
        tag = "failure" if failed else "error"
        detail = ET.SubElement(case, tag, message=result.summary, type=result.status.value)
        detail.text = result.tail
    ET.SubElement(case, "system-out").text = f"$ {result.spec.command}"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


class ChecksFailed(ShipyardError):
    """Raised by a pipeline whose required checks did not pass; carries the summary."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        super().__init__(summary.headline())

    def __reduce__(self) -> tuple[type[ChecksFailed], tuple[Summary]]:
        return (ChecksFailed, (self.summary,))


def stage_status(results: list[CheckResult], required: bool) -> tuple[str, str]:
    """The commit status of one stage: (state, description). An optional stage reports its failures too."""
    if not results:
        return "success", "nothing to check"
    failed = [r for r in results if r.blocking or (not required and r.status is Status.FAILED)]
    counts = ", ".join(f"{sum(1 for r in results if r.status is s)} {s.value}" for s in Status if any(
        r.status is s for r in results))  # fmt: skip
    if failed:
        return "failure", f"{', '.join(r.spec.name for r in failed)} did not pass ({counts})"
    return "success", counts + ("" if required else " (optional)")
