"""`shipyard deploy / status / rollback` end to end: real processes, real HAProxy, SQLite ledger under SHIPYARD_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.release.setup import local_backend
from tests.capabilities import require_tools
from tests.support.colours import ROOT
from tests.support.configs import LOCAL_PRODUCTION

pytestmark = pytest.mark.slow

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
CONFIG = (
    LOCAL_PRODUCTION
    + """\
    rollout: {{max_p95_ms: 10000, steps: [10, 50, 100], pause_seconds: 1, min_samples: 10, scale_down_delay_seconds: 1}}
"""
)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    require_tools("haproxy")
    config = tmp_path / "shipyard.yaml"
    config.write_text(CONFIG.format(python=sys.executable, router=free_port(), blue=free_port(), green=free_port()))
    env = dict(os.environ, SHIPYARD_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    env.pop("SHIPYARD_LEDGER_URL", None)
    yield config, env
    local_backend(load_config(config), "production", Home(tmp_path / "home")).shutdown("api")


def shipyard(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args, "--config", str(config)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def versions_served(config: Path, env: dict[str, str]) -> set[str]:
    backend = local_backend(load_config(config), "production", Home(Path(env["SHIPYARD_HOME"])))
    return {httpx.get(backend.router_url("api") + "/", timeout=5).json()["version"] for _ in range(10)}


def deploy(config: Path, env: dict[str, str], version: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ("--app", "api", "--version", version, "--sha", f"sha{version}", "--artifact", "img", *extra)
    return shipyard(config, env, "deploy", "production", *args)


def test_deploy_status_and_emergency_rollback_from_the_terminal(setup: tuple[Path, dict[str, str]]) -> None:
    config, env = setup
    for version in ("1.0.0", "1.1.0"):
        done = deploy(config, env, version, "--as", "dana")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"api {version} promoted" in done.stdout
    status = shipyard(config, env, "status", "production")
    assert status.returncode == 0, status.stderr
    assert "1.1.0" in status.stdout and "1.0.0" in status.stdout and "promoted" in status.stdout

    refused = shipyard(
        config, env, "rollback", "production", "--app", "api", "--to", "0.1", "--as", "dana", "--reason", "x"
    )
    assert refused.returncode == 2 and "api 0.1 was never a stable release" in refused.stderr

    done = shipyard(config, env, "rollback", "production", "--app", "api", "--as", "dana", "--reason", "bad checkout")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1.0.0 is back at 100%" in done.stdout and "by dana: bad checkout" in done.stdout
    assert versions_served(config, env) == {"1.0.0"}

    bad = deploy(config, env, "2.0.0-bad")
    assert bad.returncode == 1 and "rolled back" in bad.stdout and "error rate" in bad.stdout
    assert versions_served(config, env) == {"1.0.0"}


def test_unknown_environment_exits_2(setup: tuple[Path, dict[str, str]]) -> None:
    config, env = setup
    done = shipyard(config, env, "status", "staging")
    assert done.returncode == 2 and "unknown environment 'staging'; environments are: production" in done.stderr
