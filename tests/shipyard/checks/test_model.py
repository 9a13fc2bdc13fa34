import pytest

from shipyard.checks.model import Status, judge
from shipyard.runner import CommandResult
from tests.shipyard.checks.factories import result, spec


def ran(code: int, stderr: str = "", timed_out: bool = False) -> CommandResult:
    return CommandResult(("bash", "-c", "x"), code, "", stderr, 1.5, timed_out)


@pytest.mark.parametrize(
    ("command", "coverage", "gate", "status", "summary"),
    [
        (ran(0), None, None, Status.PASSED, ""),
        (ran(1), None, None, Status.FAILED, "exit code 1"),
        (ran(-9, timed_out=True), None, None, Status.FAILED, "timed out after 60s"),
        (ran(127, "bash: line 1: eslint: command not found"), None, None, Status.UNAVAILABLE, "eslint: command"),
        (ran(127, "sh: 1: tsc: not found"), None, None, Status.UNAVAILABLE, "tsc: command not found"),
        (ran(127), None, None, Status.UNAVAILABLE, "command not found (exit 127)"),
        (ran(0), 91.25, 80.0, Status.PASSED, "coverage 91.2% (gate 80%)"),
        (ran(0), 80.0, 80.0, Status.PASSED, "coverage 80.0% (gate 80%)"),
        (ran(0), 79.9, 80.0, Status.FAILED, "coverage 79.9% is below the 80% gate"),
        (ran(0), None, 80.0, Status.FAILED, "coverage report coverage.xml was not written"),
        (ran(2), 95.0, 80.0, Status.FAILED, "exit code 2"),
    ],
)
def test_judge(
    command: CommandResult, coverage: float | None, gate: float | None, status: Status, summary: str
) -> None:
    verdict = judge(spec(coverage_min=gate), command, coverage)
    assert verdict.status is status
    assert summary in verdict.summary
    assert verdict.duration == 1.5


@pytest.mark.parametrize(
    ("status", "required", "on_unavailable", "blocks"),
    [
        (Status.PASSED, True, "fail", False),
        (Status.FAILED, True, "fail", True),
        (Status.FAILED, False, "fail", False),
        (Status.SKIPPED, True, "fail", True),
        (Status.UNAVAILABLE, True, "fail", True),
        (Status.UNAVAILABLE, True, "warn", False),
        (Status.UNAVAILABLE, False, "fail", False),
    ],
)
def test_what_blocks(status: Status, required: bool, on_unavailable: str, blocks: bool) -> None:
    assert result(status, required=required, on_unavailable=on_unavailable).blocking is blocks
