"""The quality stage: prepare each app × toolchain, then run its checks, longest expected first, N at a time."""

from __future__ import annotations

import math
import queue
import time
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from shipyard.checks.model import CheckResult, CheckSpec, Status, not_run
from shipyard.checks.plan import MatrixEntry
from shipyard.checks.schedule import DurationHistory, LongestFirst
from shipyard.config.schema import PipelineConfig
from shipyard.deps import Prepared
from shipyard.home import Home
from shipyard.sandbox import SandboxUnavailable
from shipyard.toolchains import ToolchainUnavailable
from tasks.quality import prepare, run_check

# Checks wait this long after the first entry is prepared for the others, so the longest checks start first
# (when dependencies are cached every entry is ready within a second; a cold install is not waited for).
GATHER_SECONDS = 1.5


def quality_stage(
    config: PipelineConfig,
    specs: list[CheckSpec],
    workspace: str,
    sha: str,
    parallelism: int,
    home: Home,
    check: Task[..., Any] = run_check,
) -> list[CheckResult]:
    """A matrix entry's checks become ready when its dependencies are; at most `parallelism` checks run at once."""
    history = DurationHistory(home.root / "check-durations.json")
    ready: LongestFirst[tuple[CheckSpec, Prepared]] = LongestFirst(history)
    done: queue.Queue[PrefectFuture[Any]] = queue.Queue()
    entries = sorted({MatrixEntry(s.app, s.kind, s.version) for s in specs}, key=lambda e: e.name)
    results: list[CheckResult] = []
    with ThreadPoolTaskRunner[Any](max_workers=parallelism + len(entries)) as runner:
        preparing: dict[PrefectFuture[Any], MatrixEntry] = {}
        for entry in entries:
            args = {"entry": entry, "app": config.apps[entry.app], "workspace": workspace, "sha": sha, "home": home}
            future = runner.submit(prepare, args)
            future.add_done_callback(done.put)
            preparing[future] = entry
        running: set[PrefectFuture[Any]] = set()
        gather_until = math.inf  # set when the first entry is prepared
        while preparing or running or ready:
            gathering = bool(preparing) and time.monotonic() < gather_until
            while ready and len(running) < parallelism and not gathering:
                spec, prepared = ready.pop()
                future = runner.submit(check, {"spec": spec, "prepared": prepared, "workspace": workspace, "sha": sha})
                future.add_done_callback(done.put)
                running.add(future)
            try:
                finished = done.get(timeout=_seconds_until(gather_until) if gathering else None)
            except queue.Empty:
                continue  # gathering is over: dispatch what is ready
            if finished in running:
                running.discard(finished)
                results.append(check_result(finished))
                continue
            entry = preparing.pop(finished)
            gather_until = min(gather_until, time.monotonic() + GATHER_SECONDS)
            own = [s for s in specs if (s.app, s.toolchain) == (entry.app, entry.toolchain)]
            outcome = _final_state(finished).result(raise_on_failure=False)
            if isinstance(outcome, Prepared):
                for spec in own:
                    ready.push(spec, (spec, outcome))
            else:
                results += [_not_prepared(s, outcome) for s in own]
    history.record(results)
    order = {s.name: i for i, s in enumerate(specs)}
    return sorted(results, key=lambda r: order[r.spec.name])


def _seconds_until(deadline: float) -> float | None:
    return None if deadline == math.inf else max(0.0, deadline - time.monotonic())


def _not_prepared(spec: CheckSpec, error: object) -> CheckResult:
    if isinstance(error, ToolchainUnavailable | SandboxUnavailable):
        return not_run(spec, Status.UNAVAILABLE, str(error))
    return not_run(spec, Status.SKIPPED, f"dependencies could not be installed: {error}")


def _final_state(future: PrefectFuture[Any]) -> State[Any]:
    future.wait()  # records the final state on the future; reading the API instead could lag behind
    return future.state


def check_result(future: PrefectFuture[Any]) -> CheckResult:
    state = _final_state(future)
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, CheckResult):
        raise RuntimeError(f"check task ended {state.name} without a result: {outcome}")
    return outcome.as_cached() if state.name == "Cached" else outcome
