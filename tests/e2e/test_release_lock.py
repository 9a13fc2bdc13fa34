"""The lock on an app, end to end with the `shipyard` command on real processes, HAProxy and a PostgreSQL ledger
(the lock holds across machines there; the lease and engine tests run on SQLite too): two deploys started together
never both run, a holder stopped past its lease is taken over and can no longer write when it wakes, and a
rollback at 50/50 aborts the rollout first."""

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
from shipyard.home import Home
from shipyard.ledger import EventKind, Ledger
from shipyard.postgres import new_database
from shipyard.release.lock import LEASE_SECONDS
from shipyard.release.setup import local_backend
from tests.e2e.test_release_cli import deploy, setup, shipyard, versions_served
from tests.support.colours import ROOT

pytestmark = pytest.mark.slow
__all__ = ["setup"]  # the fixture, used by name


@pytest.fixture
def on_postgres(setup: tuple[Path, dict[str, str]], postgres_server: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """test_release_cli's stage with its ledger on a database of its own on the session's PostgreSQL server."""
    config, env = setup
    with new_database(postgres_server, prefix="release_lock") as url:
        yield config, dict(env, SHIPYARD_LEDGER_URL=url)


def start_deploy(config: Path, env: dict[str, str], version: str, actor: str) -> subprocess.Popen[str]:
    args = ["deploy", "production", "--app", "api", "--version", version, "--sha", f"sha{version}", "--artifact",
            "img", "--as", actor, "--config", str(config)]  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def at_weight(ledger: Ledger, weight: int) -> None:
    """Until the latest shift put this weight on the new release (as it goes out as its own process)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        shifted = [e for e in ledger.recent_events("production", "api") if e.kind is EventKind.SHIFTED]
        if shifted and shifted[0].weight == weight:
            return
        time.sleep(0.1)
    raise AssertionError(f"no shift to {weight}% within 120 s")


def ledger_of(env: dict[str, str]) -> Ledger:
    return Ledger(env.get("SHIPYARD_LEDGER_URL") or f"sqlite:///{Path(env['SHIPYARD_HOME']) / 'ledger.db'}")


def test_two_deploys_started_together_one_runs_the_other_says_who_holds_the_lock(
    on_postgres: tuple[Path, dict[str, str]],
) -> None:
    config, env = on_postgres
    # one step, no pause: the race is for the lock, and the winner still holds it for its colour's start and smoke
    steps = "steps: [10, 50, 100], pause_seconds: 1, min_samples: 10"
    text = config.read_text()
    assert steps in text
    config.write_text(text.replace(steps, "steps: [100], pause_seconds: 0, min_samples: 1"))
    assert deploy(config, env, "0.1").returncode == 0
    for attempt in range(20):
        both = [start_deploy(config, env, f"1.{attempt}.{side}", f"deployer-{side}") for side in "ab"]
        results = [(process.wait(timeout=300), *process.communicate()) for process in both]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], f"attempt {attempt}: {results}"
        (loser,) = [err for code, _, err in results if code == 2]
        (winner,) = [side for (code, _, _), side in zip(results, "ab", strict=True) if code == 0]
        assert f"api in production is locked by deployer-{winner} on " in loser, loser
    assert versions_served(config, env) == {f"1.19.{winner}"}


def test_a_holder_stopped_past_its_lease_is_taken_over_and_its_late_writes_are_refused(
    on_postgres: tuple[Path, dict[str, str]],
) -> None:
    config, env = on_postgres
    assert deploy(config, env, "2.0").returncode == 0
    stale = start_deploy(config, env, "2.1", "engine-a")
    ledger = ledger_of(env)
    try:
        at_weight(ledger, 10)  # stopped once traffic is partly on the new release
        os.kill(stale.pid, signal.SIGSTOP)
        time.sleep(LEASE_SECONDS + 1)
        taken = deploy(config, env, "2.1", "--as", "engine-b")  # the same release: taken over and finished
        assert taken.returncode == 0, taken.stdout + taken.stderr
        events_after_takeover = len(ledger.recent_events("production", "api", limit=500))
        os.kill(stale.pid, signal.SIGCONT)
        code = stale.wait(timeout=60)
        _, err = stale.communicate()
        assert code == 3 and "is no longer engine-a on " in err, err
        assert len(ledger.recent_events("production", "api", limit=500)) == events_after_takeover
        backend = local_backend(load_config(config), "production", Home(Path(env["SHIPYARD_HOME"])))
        current = ledger.current("production", "api")
        assert current is not None and current.version == "2.1"
        assert backend.weights("api") == {current.colour: 100, "blue" if current.colour == "green" else "green": 0}
        assert versions_served(config, env) == {"2.1"}
    finally:
        if stale.poll() is None:
            os.kill(stale.pid, signal.SIGCONT)
            stale.kill()
        ledger.close()


def test_a_rollback_at_50_50_aborts_the_rollout_and_the_previous_release_ends_at_100(
    on_postgres: tuple[Path, dict[str, str]],
) -> None:
    config, env = on_postgres
    assert deploy(config, env, "3.0").returncode == 0
    rollout = start_deploy(config, env, "3.1", "deployer")
    ledger = ledger_of(env)
    try:
        at_weight(ledger, 50)
        back = shipyard(
            config, env, "rollback", "production", "--app", "api", "--as", "oncall", "--reason", "5xx at 50%"
        )
        assert back.returncode == 0, back.stdout + back.stderr
        assert rollout.wait(timeout=60) == 1, rollout.communicate()  # its engine rolled it back and said so
        current = ledger.current("production", "api")
        assert current is not None and current.version == "3.0"
        assert versions_served(config, env) == {"3.0"}
        events = ledger.recent_events("production", "api", limit=100)
        aborted = next(e for e in events if e.kind is EventKind.FAILED)
        assert aborted.reason == "aborted by oncall: emergency rollback: 5xx at 50%"
        restored = [e for e in events if e.kind is EventKind.RESTORED]
        assert restored == [], "nothing else ran: the abort itself put 3.0 back"
        backend = local_backend(load_config(config), "production", Home(Path(env["SHIPYARD_HOME"])))
        assert backend.weights("api")[current.colour] == 100
    finally:
        if rollout.poll() is None:
            rollout.kill()
        ledger.close()
