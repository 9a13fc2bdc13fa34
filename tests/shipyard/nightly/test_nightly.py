from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard.config.nightly import LoadTest
from shipyard.ledger.store import NightlyView
from shipyard.nightly.load import LoadResult, judge, parse_stats
from shipyard.nightly.report import render

SETTINGS = LoadTest(app="api")


@pytest.mark.parametrize(
    ("result", "status", "summary"),
    [
        (LoadResult(1000, 0, 120, 50.0), "passed", "1000 requests, 0 failed (0.00%), p95 120 ms, 50.0 req/s"),
        (LoadResult(1000, 10, 120, 50.0), "passed", "1000 requests, 10 failed (1.00%)"),  # 1% is not above 1%
        (LoadResult(1000, 11, 120, 50.0), "failed", "error rate 1.10% above 1%"),
        (LoadResult(1000, 0, 501, 50.0), "failed", "p95 501 ms above 500 ms"),
        (LoadResult(1000, 50, 900, 50.0), "failed", "error rate 5.00% above 1%; p95 900 ms above 500 ms"),
        (LoadResult(0, 0, 0, 0.0), "failed", "no request was made"),
    ],
)
def test_judge(result: LoadResult, status: str, summary: str) -> None:
    verdict = judge(result, SETTINGS)
    assert verdict.status == status
    assert verdict.summary.startswith(summary)


def test_parse_stats_reads_the_aggregated_row(tmp_path: Path) -> None:
    stats = tmp_path / "load_stats.csv"
    stats.write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%\n"
        "GET,/health,412,3,4,5.1,1,40,15,41.2,0.3,4,5,5,6,8,11,20,30,40,40,40\n"
        ",Aggregated,412,3,4,5.1,1,40,15,41.2,0.3,4,5,5,6,8,11,20,30,40,40,40\n"
    )
    assert parse_stats(stats) == LoadResult(412, 3, 11.0, 41.2)
    stats.write_text("Type,Name,Request Count\nGET,/health,1\n")
    with pytest.raises(ValueError, match="no Aggregated row"):
        parse_stats(stats)


def night(day: int, passed: bool = True, failed: int = 0, p95: float | None = 40.0) -> NightlyView:
    at = datetime(2026, 11, 20, 2, tzinfo=UTC) + timedelta(days=day)
    rate = None if p95 is None else 0.0
    return NightlyView(f"r{day}", "demo", "main", f"{day}" * 40, passed, 20, failed, 1, "passed" if p95 else None,
                       100 if p95 else None, rate, p95, "headline", at)  # fmt: skip


def test_report_shows_tonight_against_the_last_nights() -> None:
    rows = [{"app": "api", "check": "lint", "toolchain": "python3.11", "status": "failed", "duration": "1.2s"}]
    text = render(night(3, passed=False, failed=2, p95=60.0), [night(1), night(2)], rows, "412 requests")
    assert text.startswith("# demo nightly 2026-11-23: FAILED")
    assert "- result: passed → FAILED" in text
    assert "- failed checks: 0 → 2" in text
    assert "- load p95: 40 → 60 ms (+50%)" in text
    trend = [line for line in text.splitlines() if line.startswith("| 2026-11-2")]
    assert [line.split(" | ")[0] for line in trend] == ["| 2026-11-21", "| 2026-11-22", "| 2026-11-23"]
    assert "| api | lint | python3.11 | failed | 1.2s |" in text
    assert "## Load test\n\n412 requests" in text


def test_first_night_and_a_night_without_load_test() -> None:
    text = render(night(0, p95=None), [], [], "")
    assert "First night on record" in text
    assert "not configured" in text
    assert f"| 2026-11-20 | {'0' * 12} | passed | 20 | 0 | 1 | - | - | - |" in text
