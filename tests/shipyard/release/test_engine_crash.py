"""Kill the engine process (SIGKILL) at each step of a release, run it again: it always ends consistent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shipyard.files import free_port
from shipyard.ledger import EventKind, Ledger
from shipyard.release.local import LocalApp, LocalBackend
from tests.capabilities import require_tools
from tests.support.colours import ROOT, SERVER

pytestmark = pytest.mark.slow


class Driver:
    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.state = tmp_path / "state"
        self.db = database_url
        self.ports = [free_port(), free_port(), free_port()]

    def argv(self, version: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tests.support.engine_driver",
            str(self.state),
            self.db,
            *map(str, self.ports),
            version,
        ]

    def run(self, version: str) -> tuple[int, str]:
        done = subprocess.run(self.argv(version), cwd=ROOT, capture_output=True, text=True, timeout=180)
        return done.returncode, done.stdout[-3000:] + done.stderr[-3000:]

    def kill_at(self, version: str, step: str) -> list[str]:
        """Start a release and SIGKILL the engine when it announces `step`; returns the steps it announced."""
        proc = subprocess.Popen(self.argv(version), cwd=ROOT, stdout=subprocess.PIPE, text=True)
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == f"step {step}":
                proc.kill()
                break
        proc.wait(30)
        return seen

    def crash_then_rerun(self, version: str, step: str) -> tuple[int, str]:
        """Deploy 1.0.0, start `version`, kill the engine at `step`, run it again; the re-run's exit and output."""
        assert self.run("1.0.0")[0] == 0
        seen = self.kill_at(version, step)
        assert f"step {step}" in seen, seen
        return self.run(version)

    def backend(self) -> LocalBackend:
        command = f"{sys.executable} {SERVER} {{port}} $SHIPYARD_COLOUR"
        router, blue, green = self.ports
        app = LocalApp(command=command, cwd=ROOT, router_port=router, ports={"blue": blue, "green": green})
        return LocalBackend(self.state, {"api": app})


@pytest.fixture
def driver(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    require_tools("haproxy")
    driver = Driver(tmp_path, database_url)
    yield driver
    driver.backend().shutdown("api")


STEPS = ["start-candidate", "smoke-preview", "shift", "smoke-final", "promote", "scale-down-old"]


# Every step on SQLite; PostgreSQL repeats two of them to keep the suite short.
GOOD_CASES = [("sqlite", step) for step in STEPS] + [("postgresql", "shift"), ("postgresql", "promote")]
BAD_CASES = [("sqlite", "shift"), ("sqlite", "roll-back"), ("postgresql", "roll-back")]


@pytest.mark.parametrize(("database_url", "step"), GOOD_CASES, indirect=["database_url"])
def test_killed_good_release_is_promoted_on_rerun(driver: Driver, step: str, database_url: str) -> None:
    code, output = driver.crash_then_rerun("1.1.0", step)
    assert code == 0, output  # the re-run resumes the same release and finishes it
    backend = driver.backend()
    ledger = Ledger(database_url)
    current = ledger.current("production", "api")
    assert current is not None and current.version == "1.1.0"
    assert backend.weights("api") == {current.colour: 100, "blue" if current.colour == "green" else "green": 0}
    assert {httpx.get(backend.router_url("api") + "/", timeout=5).json()["version"] for _ in range(10)} == {"1.1.0"}
    releases = {e.release_id for e in ledger.recent_events("production", "api", limit=500)}
    assert len(releases) == 2  # resumed, not started twice
    assert [e.kind for e in ledger.events(current.id)].count(EventKind.PROMOTED) == 1
    ledger.close()


@pytest.mark.parametrize(("database_url", "step"), BAD_CASES, indirect=["database_url"])
def test_killed_bad_release_is_rolled_back_on_rerun(driver: Driver, step: str, database_url: str) -> None:
    code, output = driver.crash_then_rerun("2.0.0-bad", step)
    assert code == 1, output
    backend = driver.backend()
    ledger = Ledger(database_url)
    current = ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"
    assert backend.weights("api")[current.colour] == 100
    assert {httpx.get(backend.router_url("api") + "/", timeout=5).json()["version"] for _ in range(10)} == {"1.0.0"}
    ledger.close()
