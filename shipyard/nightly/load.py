"""The nightly load test: locust (headless, pinned in its own virtualenv) against an environment's address; the
verdict comes from locust's aggregated statistics, not its exit code alone."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from shipyard.config.nightly import LoadTest
from shipyard.runner import run
from shipyard.tools import ToolUnavailable, ensure

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failures: int
    p95_ms: float
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


@dataclass(frozen=True)
class LoadVerdict:
    status: str  # passed, failed, unavailable
    summary: str
    result: LoadResult | None = None


def judge(result: LoadResult, settings: LoadTest) -> LoadVerdict:
    problems = []
    if result.requests == 0:
        problems.append("no request was made")
    if result.error_rate > settings.max_error_rate:
        problems.append(f"error rate {result.error_rate:.2%} above {settings.max_error_rate:.0%}")
    if result.p95_ms > settings.max_p95_ms:
        problems.append(f"p95 {result.p95_ms:g} ms above {settings.max_p95_ms:g} ms")
    figures = (
        f"{result.requests} requests, {result.failures} failed ({result.error_rate:.2%}), "
        f"p95 {result.p95_ms:g} ms, {result.rps:.1f} req/s"
    )
    if problems:
        return LoadVerdict("failed", f"{'; '.join(problems)} ({figures})", result)
    return LoadVerdict("passed", figures, result)


def parse_stats(path: Path) -> LoadResult:
    """The 'Aggregated' row of locust's --csv *_stats.csv."""
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                p95 = row.get("95%", "0")
                return LoadResult(
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    p95_ms=float(p95) if p95 not in ("", "N/A") else 0.0,
                    rps=float(row.get("Requests/s") or 0),
                )
    raise ValueError(f"{path} has no Aggregated row")


def load_test(url: str, settings: LoadTest, tools: Path, out: Path) -> LoadVerdict:
    try:
        locust = ensure("locust", tools)
    except ToolUnavailable as exc:
        return LoadVerdict("unavailable", f"locust could not be installed: {exc}")
    out.mkdir(parents=True, exist_ok=True)
    command = [
        str(locust), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(settings.users), "-r", str(settings.spawn_rate), "-t", f"{settings.duration_seconds}s",
        "--host", url, "--csv", str(out / "load"), "--exit-code-on-error", "0",
    ]  # fmt: skip
    env = dict(os.environ, SHIPYARD_LOAD_PATHS=",".join(settings.paths))
    result = run(command, env=env, timeout=settings.duration_seconds + 120)
    stats = out / "load_stats.csv"
    if not result.ok or not stats.exists():
        return LoadVerdict("unavailable", f"locust did not finish (exit {result.returncode}): {result.tail(10)}")
    return judge(parse_stats(stats), settings)
