"""The Docker work pool for real: a pr-checks flow run executes in a container on the local engine (host network,
Shipyard's worker image built from the local base images) and completes."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectAlreadyExists

from shipyard.images.worker import WORKER_IMAGE, build_worker_image
from shipyard.runner import spawn, stop
from shipyard.sample import create_sample_repo
from tests.capabilities import require_tools

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("base_images")]

ROOT = Path(__file__).parents[2]
POOL = "shipyard-docker"


def test_a_pr_checks_run_executes_in_a_container_of_the_docker_pool(
    shipyard_env: dict[str, str], docker_engine: Any, tmp_path: Path
) -> None:
    require_tools("git")
    build_worker_image(docker_engine)
    # flow runs execute as UID 1001: the repository must be readable by others (pytest's tmp folders are not)
    shared = Path(tempfile.mkdtemp(prefix="shipyard-docker-pool-"))
    shared.chmod(0o755)
    repo = shared / "repo"
    sha = create_sample_repo(repo)
    template = json.loads((ROOT / "infra" / "work-pools" / "docker.json").read_text())
    api = shipyard_env["PREFECT_API_URL"]
    with SyncPrefectClient(api) as client:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(WorkPoolCreate(name=POOL, type="docker", base_job_template=template))
        deployment = client.create_deployment(
            client.create_flow_from_name("pr-checks"),
            "pr-checks-docker",
            work_pool_name=POOL,
            entrypoint="flows/pr_checks.py:pr_checks",
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/shipyard"}}],
            job_variables={"volumes": [f"{repo}:{repo}:ro"], "auto_remove": False},
        )
        run = client.create_flow_run_from_deployment(
            deployment, parameters={"repo": str(repo), "sha": sha, "apps": ["api"], "stages": ["quality"]}
        )
    log = tmp_path / "worker.log"
    env = dict(shipyard_env, PREFECT_WORKER_QUERY_SECONDS="1")
    prefect = str(Path(sys.executable).parent / "prefect")
    worker = spawn([prefect, "worker", "start", "--pool", POOL, "--type", "docker"], env=env, log=log)
    try:
        state = wait_final(api, run.id, log)
    finally:
        print(stop(worker, "prefect worker"))
    (container,) = docker_engine.containers(all=True, filters={"label": f"io.prefect.flow-run-id={run.id}"})
    try:
        assert container["Image"] == WORKER_IMAGE
        host_config = docker_engine.inspect_container(container["Id"])["HostConfig"]
        assert host_config["NetworkMode"] == "host"
        assert host_config["Privileged"] is True  # bubblewrap inside needs it (docs/sandbox.md); the flow is UID 1001
        assert container["State"] == "exited" and "Exited (0)" in container["Status"]
        logs = docker_engine.logs(container["Id"]).decode()
    finally:
        docker_engine.remove_container(container["Id"], force=True)
        shutil.rmtree(shared, ignore_errors=True)
    assert state.type is StateType.COMPLETED, f"{state}\n{log.read_text()[-3000:]}\n{logs[-3000:]}"
    assert "check api/lint/python3.11" in logs


def wait_final(api: str, run_id: Any, log: Path, timeout: float = 900) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with SyncPrefectClient(api) as client:
            state = client.read_flow_run(run_id).state
        if state is not None and state.is_final():
            return state
        time.sleep(1)
    raise AssertionError(f"flow run still {state} after {timeout:g}s; worker log:\n{log.read_text()[-3000:]}")
