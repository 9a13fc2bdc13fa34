"""`shipyard rollout ...` on a release in progress, end to end with the `shipyard` command on real processes,
HAProxy and a SQLite ledger: pause holds the weight, resume goes on, promote --full skips the rest, abort rolls
back, retry releases the failed artifact again, abandon closes a release whose command was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import EventKind, Ledger
from shipyard.release.lock import LEASE_SECONDS
from shipyard.release.setup import local_backend
from tests.capabilities import require_tools
from tests.e2e.test_release_cli import shipyard, versions_served
from tests.e2e.test_release_lock import start_deploy
from tests.support.colours import ROOT
from tests.support.configs import LOCAL_PRODUCTION

pytestmark = pytest.mark.slow
PAUSE = 8  # seconds of analysis at each step: long enough to give a command in on a loaded machine
CONFIG = (
    LOCAL_PRODUCTION
    + f"""\
    rollout: {{{{max_p95_ms: 10000, steps: [10, 50, 100], pause_seconds: {PAUSE}, min_samples: 5,
               scale_down_delay_seconds: 1}}}}
"""
)


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Ledger]]:
    require_tools("haproxy")
    config = tmp_path / "shipyard.yaml"
    config.write_text(CONFIG.format(python=sys.executable, router=free_port(), blue=free_port(), green=free_port()))
    env = dict(os.environ, SHIPYARD_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    env.pop("SHIPYARD_LEDGER_URL", None)
    ledger = Ledger(f"sqlite:///{tmp_path / 'home' / 'ledger.db'}")
    yield config, env, ledger
    ledger.close()
    local_backend(load_config(config), "production", Home(tmp_path / "home")).shutdown("api")


def release(config: Path, env: dict[str, str], version: str) -> subprocess.Popen[str]:
    return start_deploy(config, env, version, "deployer")


def rollout(config: Path, env: dict[str, str], command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return shipyard(config, env, "rollout", command, "production", "--app", "api", "--as", "carol", *extra)


def shifts(ledger: Ledger, version: str) -> list[int | None]:
    releases = {e.release_id for e in ledger.recent_events("production", "api", limit=500)}
    mine = [r for r in releases if ledger.release(r).version == version]
    return [e.weight for r in sorted(mine) for e in ledger.events(r) if e.kind is EventKind.SHIFTED]


def until(condition: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_pause_resume_promote_abort_retry_and_abandon(stage: tuple[Path, dict[str, str], Ledger]) -> None:
    config, env, ledger = stage
    first = release(config, env, "1.0")
    assert first.wait(timeout=120) == 0, first.communicate()

    second = release(config, env, "2.0")
    until(lambda: shifts(ledger, "2.0") == [10])
    paused = rollout(config, env, "pause", "--reason", "watching the dashboards")
    assert paused.returncode == 0 and "its engine (deployer on " in paused.stdout, paused.stdout + paused.stderr
    time.sleep(PAUSE + 3)  # past the step's analysis: still 10%
    assert shifts(ledger, "2.0") == [10]
    resumed = rollout(config, env, "resume", "--reason", "looks fine")
    assert resumed.returncode == 0, resumed.stderr
    until(lambda: shifts(ledger, "2.0") == [10, 50])
    promoted = rollout(config, env, "promote", "--full", "--reason", "ship it now")
    assert promoted.returncode == 0, promoted.stderr
    assert second.wait(timeout=120) == 0, second.communicate()
    assert shifts(ledger, "2.0") == [10, 50, 100] and versions_served(config, env) == {"2.0"}

    third = release(config, env, "3.0")
    until(lambda: shifts(ledger, "3.0") == [10])
    aborted = rollout(config, env, "abort", "--reason", "wrong config")
    assert aborted.returncode == 0, aborted.stderr
    assert third.wait(timeout=120) == 1  # rolled back
    assert versions_served(config, env) == {"2.0"}
    failed = next(e for e in ledger.recent_events("production", "api", limit=50) if e.kind is EventKind.FAILED)
    assert failed.reason == "aborted by carol: wrong config"

    retried = rollout(config, env, "retry", "--reason", "config fixed")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert versions_served(config, env) == {"3.0"}

    fourth = release(config, env, "4.0")
    until(lambda: shifts(ledger, "4.0") == [10])
    os.kill(fourth.pid, signal.SIGKILL)  # the command dies with 10% on 4.0
    fourth.wait(timeout=30)
    early = rollout(config, env, "abandon", "--reason", "its run died")
    assert early.returncode == 2 and "is being released by deployer on " in early.stderr, early.stderr
    time.sleep(LEASE_SECONDS + 1)
    abandoned = rollout(config, env, "abandon", "--reason", "its run died")
    assert abandoned.returncode == 0, abandoned.stdout + abandoned.stderr
    assert versions_served(config, env) == {"3.0"}
    backend = local_backend(load_config(config), "production", Home(Path(env["SHIPYARD_HOME"])))
    assert sorted(backend.weights("api").values()) == [0, 100]
    commands = [(e.details["command"], e.actor) for e in ledger.recent_events("production", "api", limit=500)
                if e.kind is EventKind.COMMAND]  # fmt: skip
    assert sorted(commands) == sorted([("pause", "carol"), ("resume", "carol"), ("promote-full", "carol"),
                                       ("abort", "carol"), ("abort", "carol")])  # fmt: skip
