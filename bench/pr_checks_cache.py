"""Cached vs uncached pr-checks on the same commit (target: second run < 25% of the first).

Three runs on the sample platform against a real Prefect server:
  fresh  - a new machine: toolchains and dependencies installed, every check run
  first  - new content in every app (dependency cache warm, no cached check results)
  second - the same commit again: every check result comes from the cache
"""

from __future__ import annotations

import shutil

from _harness import start, timed

server, work = start("cache")
try:
    from flows.pr_checks import pr_checks
    from shipyard.sample import commit_all, create_sample_repo

    repo = work / "sample"
    fresh_sha = create_sample_repo(repo)
    fresh, _ = timed(lambda: pr_checks(repo=str(repo), sha=fresh_sha))
    for app in ("api", "web", "workers", "ml"):
        (repo / "apps" / app / "CHANGELOG.md").write_text(f"# {app}\n\n- benchmark change\n")
    sha = commit_all(repo, "touch every app")
    first, _ = timed(lambda: pr_checks(repo=str(repo), sha=sha))
    second, _ = timed(lambda: pr_checks(repo=str(repo), sha=sha))
    ratio = second / first
    print(f"{'run':<8}{'seconds':>10}")
    print(f"{'fresh':<8}{fresh:>10.2f}   (installs toolchains and dependencies)")
    print(f"{'first':<8}{first:>10.2f}   (dependencies cached, checks run)")
    print(f"{'second':<8}{second:>10.2f}   (same commit, results cached)")
    print(f"second/first ratio: {ratio:.3f}  (target < 0.25: {'met' if ratio < 0.25 else 'NOT met'})")
    print(f"second/fresh ratio: {second / fresh:.3f}")
finally:
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
