"""Cached vs uncached pr-checks on the same commit (target: second run < 25% of the first).

On the sample platform against a real Prefect server:
  fresh  - once: a new machine, toolchains, dependencies and scanners installed, every check run
then three rounds of
  first  - new content in every app (dependency cache warm, no cached check results): the baseline
  second - the same commit again: every check result that can be cached comes from the cache
The ratio is of the medians. Exits non-zero when a required check did not pass or a passed result was not reused
on the same commit (failed and unavailable results are never cached), never on a time.
"""

from __future__ import annotations

import shutil
from typing import Any

from _harness import RUNS, finish, median, ratio, start, stop_server, timed

from shipyard.checks.model import Status

server, work = start("cache")
problems: list[str] = []
firsts: list[float] = []
seconds: list[float] = []


def checked(label: str, summary: Any) -> Any:
    if not summary.passed:
        problems.append(f"{label} run: {summary.headline()}")
    return summary


try:
    from flows.pr_checks import pr_checks
    from shipyard.sample import commit_all, create_sample_repo

    repo = work / "sample"
    fresh_sha = create_sample_repo(repo)
    fresh, summary = timed(lambda: pr_checks(repo=str(repo), sha=fresh_sha))
    print(f"fresh run (installs toolchains, dependencies, scanners): {fresh:.2f} s")
    print(f"  {checked('fresh', summary).headline()}")
    for number in range(1, RUNS + 1):
        for app in ("api", "web", "workers", "ml"):
            (repo / "apps" / app / "CHANGELOG.md").write_text(f"# {app}\n\n- benchmark change {number}\n")
        sha = commit_all(repo, f"touch every app ({number})")
        first, _ = timed(lambda: checked("first", pr_checks(repo=str(repo), sha=sha)))  # noqa: B023 (called now)
        second, again = timed(lambda: checked("second", pr_checks(repo=str(repo), sha=sha)))  # noqa: B023
        missed = [r.spec.name for r in again.results if r.status is Status.PASSED and not r.cached]
        if missed:
            problems.append(f"round {number}: passed results not reused on the same commit: {', '.join(missed)}")
        reused = sum(1 for r in again.results if r.cached)
        print(f"  round {number}: first {first:.2f} s, second {second:.2f} s ({reused} of {len(again.results)} cached)")
        firsts.append(first)
        seconds.append(second)
finally:
    stop_server(server)
    shutil.rmtree(work, ignore_errors=True)

first_median = median("first (checks run; baseline)", firsts)
second_median = median("second (same commit, results cached)", seconds)
ratio("second/first", second_median, first_median, "target < 0.25")
ratio("second/fresh", second_median, fresh)
finish(problems)
