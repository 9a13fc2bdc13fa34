from dataclasses import replace
from pathlib import Path

from shipyard.checks.model import Status
from shipyard.checks.schedule import DurationHistory, LongestFirst
from tests.shipyard.checks.factories import result, spec


def ran(check: str, seconds: float, cached: bool = False):  # type: ignore[no-untyped-def]
    return replace(result(Status.PASSED, check=check), duration=seconds, cached=cached)


def test_pops_longest_expected_first_and_unknown_as_typical(tmp_path: Path) -> None:
    history = DurationHistory(tmp_path / "d.json")
    history.record([ran("lint", 0.1), ran("typecheck", 5.0), ran("test", 2.0), ran("audit", 1.0)])  # median 1.5
    queue: LongestFirst[str] = LongestFirst(history)
    for check in ("lint", "format", "test", "typecheck"):
        queue.push(spec(check), check)
    assert [queue.pop() for _ in range(len(queue))] == ["typecheck", "test", "format", "lint"]


def test_history_smooths_and_persists_but_ignores_cached_results(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    DurationHistory(path).record([ran("test", 4.0)])
    DurationHistory(path).record([ran("test", 2.0), ran("lint", 9.0, cached=True)])
    again = DurationHistory(path)
    assert again.expected(spec("test")) == 3.0
    assert "api/lint/python3.11" not in again.seconds


def test_empty_or_corrupt_history_is_no_history(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("{not json")
    assert DurationHistory(path).expected(spec("test")) == 0.0
