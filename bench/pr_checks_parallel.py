"""Parallel vs one-check-at-a-time quality stage, same process, same commit (target: speed-up >= 1.6x on 2 cores).

Both timed runs refresh the cache, so every check really runs; a warm-up run installs dependencies first.
The speed-up is computed on the flow run time the Prefect server records; wall time around the call is shown
too (it adds the engine's teardown, which waits up to a second for its heartbeat thread).
"""

from __future__ import annotations

import os
import shutil
from functools import partial

from _harness import flow_run_seconds, start, timed

server, work = start("parallel")
try:
    from flows.pr_checks import pr_checks
    from shipyard.sample import create_sample_repo

    repo = work / "sample"
    sha = create_sample_repo(repo)
    pr_checks(repo=str(repo), sha=sha)  # warm-up: toolchains, dependencies, file system caches
    parallelism = os.cpu_count() or 1  # the default: one check per core
    runs = {}
    for label, workers in (("one at a time", 1), (f"parallel ({parallelism} at once)", parallelism)):
        wall, state = timed(
            partial(pr_checks, repo=str(repo), sha=sha, parallelism=workers, refresh_cache=True, return_state=True)
        )
        runs[label] = (flow_run_seconds(state), wall)
    print(f"cores: {os.cpu_count()}  checks: 20 (4 apps, web on Node 18 and 20)")
    print(f"{'':<22}{'flow run s':>11}{'wall s':>9}")
    for label, (run_time, wall) in runs.items():
        print(f"{label:<22}{run_time:>11.2f}{wall:>9.2f}")
    (serial, _), (parallel, _) = runs.values()
    speedup = serial / parallel
    print(f"speed-up: {speedup:.2f}x  (target >= 1.6x: {'met' if speedup >= 1.6 else 'NOT met'})")
finally:
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
