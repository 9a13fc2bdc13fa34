"""Parallel vs one-check-at-a-time quality stage of pr-checks, same process, same commit (target: speed-up >= 1.6x
on 2 cores).

Every timed run refreshes the cache, so every check really runs; a warm-up run installs toolchains and
dependencies and fills the tool caches (mypy, ruff, ESLint, tsc) first, as an earlier run of the same lock files
would have. Three rounds, each one run one check at a time (the baseline) then one with a check per core;
the speed-up is the ratio of the medians of the flow run times the Prefect server records. Wall time around the
call is shown too (it adds the engine's teardown, which waits up to a second for its heartbeat thread). Exits
non-zero when a required check did not pass (what was timed would not be the real pipeline), never on a time.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from typing import Any

from _harness import RUNS, finish, flow_run_seconds, median, ratio, start, stop_server, timed

server, work = start("parallel")
problems: list[str] = []
parallelism = max(os.cpu_count() or 1, 2)  # the default, one check per core (two on one core, to compare)
times: dict[int, list[tuple[float, float]]] = {1: [], parallelism: []}
try:
    from flows.pr_checks import pr_checks
    from shipyard.config.branches import StageName
    from shipyard.sample import create_sample_repo

    QUALITY: list[StageName] = ["quality"]  # lint, format, typecheck and test; other stages have benches of their own
    repo = work / "sample"
    sha = create_sample_repo(repo)
    warm_up, _ = timed(lambda: pr_checks(repo=str(repo), sha=sha, stages=QUALITY))  # installs, tool caches
    print(f"warm-up run (installs): {warm_up:.1f} s")
    for number in range(1, RUNS + 1):
        for workers in times:
            check = partial(pr_checks, repo=str(repo), sha=sha, stages=QUALITY, parallelism=workers, refresh_cache=True)
            wall, state = timed(partial(check, return_state=True))
            summary: Any = state.result(raise_on_failure=False)
            if not state.is_completed() or not getattr(summary, "passed", False):
                headline = summary.headline() if hasattr(summary, "headline") else repr(summary)
                problems.append(f"run {number} with {workers} at once: {state.name}: {headline}")
            times[workers].append((flow_run_seconds(state), wall))
            print(f"  round {number}, {workers} at once: flow run {times[workers][-1][0]:.2f} s, wall {wall:.2f} s")
finally:
    stop_server(server)
    shutil.rmtree(work, ignore_errors=True)

print(f"cores: {os.cpu_count()}  checks: 20 (4 apps, web on Node 18 and 20)")
serial = median("one at a time, flow run (baseline)", [t for t, _ in times[1]])
median("one at a time, wall", [w for _, w in times[1]])
parallel = median(f"{parallelism} at once, flow run", [t for t, _ in times[parallelism]])
median(f"{parallelism} at once, wall", [w for _, w in times[parallelism]])
ratio("speed-up (one at a time/parallel)", serial, parallel, "target >= 1.6x")
finish(problems)
