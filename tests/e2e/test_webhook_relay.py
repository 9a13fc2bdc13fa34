"""`shipyard webhook serve` against a real Prefect server: signed deliveries become flow runs, exactly once."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from deployments.pools import create_process_pools
from shipyard.files import free_port
from shipyard.runner import spawn, stop
from tests.deployments.test_webhook_relay import delivery, push

pytestmark = pytest.mark.slow

SAMPLE_CONFIG = Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml"


@pytest.fixture(scope="module")
def pr_checks_deployment(shipyard_env: dict[str, str]) -> UUID:
    """The pr-checks deployment on the test server's process pool (no worker: runs stay scheduled)."""
    with SyncPrefectClient(shipyard_env["PREFECT_API_URL"]) as client:
        create_process_pools(client, "shipyard-checks")
        flow_id = client.create_flow_from_name("pr-checks")
        return client.create_deployment(
            flow_id, "pr-checks", work_pool_name="shipyard-checks", entrypoint="flows/pr_checks.py:pr_checks"
        )


@pytest.fixture
def relay(shipyard_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(shipyard_env, GITHUB_WEBHOOK_SECRET="relay-test-secret", SHIPYARD_HOME=str(tmp_path))
    argv = [
        sys.executable,
        "-m",
        "cli",
        "webhook",
        "serve",
        "--config",
        str(SAMPLE_CONFIG),
        "--port",
        str(port),
    ]
    process = spawn(argv, env=env, log=tmp_path / "relay.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    print(stop(process, "webhook relay"))


def runs_of(env: dict[str, str], deployment: UUID) -> list[dict[str, object]]:
    with SyncPrefectClient(env["PREFECT_API_URL"]) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment])))
    return [dict(r.parameters) for r in runs]


def test_redelivered_pushes_start_exactly_one_flow_run_each(
    shipyard_env: dict[str, str], pr_checks_deployment: UUID, relay: str
) -> None:
    before = len(runs_of(shipyard_env, pr_checks_deployment))
    first = delivery("push", push("feature/login", "1a" * 20), f"relay-e2e-{os.getpid()}-1")
    for _ in range(10):
        assert httpx.post(relay + "/github", **first).status_code == 202
    second = delivery("push", push("feature/search", "2b" * 20), f"relay-e2e-{os.getpid()}-2")
    assert httpx.post(relay + "/github", **second).status_code == 202
    deadline = time.monotonic() + 30
    while httpx.get(relay + "/health").json()["waiting"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(relay + "/health").json() == {"status": "ok", "received": 2, "waiting": 0}
    runs = runs_of(shipyard_env, pr_checks_deployment)
    assert len(runs) == before + 2
    started = {(r["branch"], r["sha"]) for r in runs}
    assert {("feature/login", "1a" * 20), ("feature/search", "2b" * 20)} <= started
