"""How the suite spreads over xdist workers: a test file (or a group of files) per worker at a time, the longest
first, and a worker takes its next file only when it is about to finish the one it has.

xdist's own loadfile scheduling orders files by their number of tests (our slowest files have one to six tests, so
they started last and the run ended waiting on them) and queues files on a worker ahead of time (a worker busy with
one slow test could hold the next slow file while another worker sat idle)."""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

# Measured (wall seconds of a file under three workers, warm machine / fresh machine where they differ): the files
# that take longest start first. The images and docker-pool files come early because a fresh machine makes their
# base images and builds from nothing (images 141-431 s, docker pool 210-300 s in fresh CI runs). A file not listed
# starts after these, in collection order.
LONGEST_FIRST = (
    "tests/e2e/test_production_deploy.py",  # 332 s
    "tests/e2e/test_production_rollback.py",  # 318 s
    "tests/e2e/test_images.py",  # 156 s; fresh 141-431 s
    "tests/e2e/test_pr_checks.py",  # 296 s with test_pr_checks_stages.py (TOGETHER)
    "tests/e2e/test_docker_pool.py",  # 75 s; fresh 210-300 s
    "tests/e2e/test_demo.py",  # 117 s; fresh 106-309 s
    "tests/e2e/test_policy_gate.py",  # 221 s
    "tests/shipyard/release/test_engine.py",  # 211 s
    "tests/e2e/test_release_lock.py",  # 137 s
    "tests/shipyard/release/test_engine_crash.py",  # 135 s
    "tests/e2e/test_rollout_commands.py",  # 93 s
    "tests/shipyard/release/test_local_containers.py",  # 49 s
    "tests/e2e/test_release_cli_ecs.py",  # 46 s
    "tests/shipyard/database/test_migrations_stage.py",  # 44 s
    "tests/e2e/test_nightly.py",  # 39 s
    "tests/shipyard/release/test_ecs_backend.py",  # 30 s
    "tests/shipyard/release/test_kubernetes_backend.py",  # 27 s
    "tests/shipyard/release/test_package.py",  # 27 s
    "tests/e2e/test_release_cli.py",  # 24 s
)
# Files that run on one worker, one after the other: the second reuses the sample's installs and cached checks of
# the first (each worker has its own Prefect server and result storage).
TOGETHER = {"tests/e2e/test_pr_checks_stages.py": "tests/e2e/test_pr_checks.py"}


def scope_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return TOGETHER.get(path, path)


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder the collection (in place): listed scopes first, in the list's order; a scope's tests stay together."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(scope_of(item.nodeid), len(rank)))


class LongestFirst(LoadScopeScheduling):  # type: ignore[misc]
    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False  # keep the collection's order (longest_first)

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)

    def _reschedule(self, node: Any) -> None:
        # A worker runs a test only once it knows the next one: give it the next file when one test is left.
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) <= 1:
            self._assign_work_unit(node)
