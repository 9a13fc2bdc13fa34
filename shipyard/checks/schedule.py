"""Longest-expected-first ordering of ready checks, from how long they took in earlier runs on this machine.

Starting the slowest check first keeps it off the end of the critical path: on two cores the difference
between FIFO and longest-first is most of the parallel speed-up. The estimate is wall time: a sandboxed command's
CPU time cannot be read back (its PID namespace's init is never reaped, so wait4 sees only bwrap's own few
milliseconds), and contention stretches every check of a parallel run alike, which keeps their order.
"""

from __future__ import annotations

import heapq
import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Generic, TypeVar

from shipyard.checks.model import CheckResult, CheckSpec
from shipyard.files import write_atomically
from shipyard.toolchains import locked

T = TypeVar("T")
SMOOTHING = 0.5  # weight of the newest duration against the running estimate


class DurationHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = _load(path)

    def expected(self, spec: CheckSpec) -> float:
        """Seconds we expect the check to take; an unknown check counts as a typical one."""
        known = self.seconds.get(spec.name)
        if known is not None:
            return known
        return statistics.median(self.seconds.values()) if self.seconds else 0.0

    def record(self, results: Iterable[CheckResult]) -> None:
        """Fold in the durations of checks that really ran (cached results say nothing new)."""
        fresh = [r for r in results if not r.cached and r.duration > 0]
        if not fresh:
            return
        with locked(self.path):
            merged = _load(self.path)
            for r in fresh:
                old = merged.get(r.spec.name)
                new = r.duration
                merged[r.spec.name] = new if old is None else SMOOTHING * new + (1 - SMOOTHING) * old
            write_atomically(self.path, json.dumps(merged, indent=1, sort_keys=True))
        self.seconds = merged


class LongestFirst(Generic[T]):
    """A queue of ready checks (with what they need to run) that pops the longest expected first."""

    def __init__(self, history: DurationHistory) -> None:
        self.history = history
        self._heap: list[tuple[float, str, int, T]] = []
        self._count = 0

    def push(self, spec: CheckSpec, item: T) -> None:
        self._count += 1
        heapq.heappush(self._heap, (-self.history.expected(spec), spec.name, self._count, item))

    def pop(self) -> T:
        return heapq.heappop(self._heap)[3]

    def __len__(self) -> int:
        return len(self._heap)


def _load(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)} if isinstance(data, dict) else {}
