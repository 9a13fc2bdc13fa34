"""The local backend running colours as containers (host network, read-only) behind the real HAProxy."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.files import free_port
from shipyard.images import engine
from shipyard.ledger import ReleaseView
from shipyard.release.local import Container, LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator
from shipyard.release.rollout import Health
from tests.capabilities import require_tools
from tests.shipyard.release.test_local_backend import wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("base_images")]

SUPPORT = Path(__file__).parents[2] / "support"
IMAGE = "shipyard-test/colour-server"


@pytest.fixture(scope="module")
def image(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The stand-in app as an image on the distroless Python runtime base (standard library only)."""
    context = tmp_path_factory.mktemp("colour-image")
    shutil.copy(SUPPORT / "colour_server.py", context / "colour_server.py")
    (context / "Dockerfile").write_text(
        "FROM shipyard/python-runtime:3.11\nCOPY colour_server.py /app/colour_server.py\n"
        'CMD ["python3", "/app/colour_server.py"]\n'
    )
    engine.build(docker_engine, context, "Dockerfile", f"{IMAGE}:1", {}, timeout=300)
    return f"{IMAGE}:1"


@pytest.fixture
def backend(tmp_path: Path, image: str) -> Iterator[LocalBackend]:
    require_tools("haproxy", "docker")
    app = LocalApp(
        command="never-used-for-images",
        cwd=tmp_path,
        router_port=free_port(),
        ports={"blue": free_port(), "green": free_port()},
        container=Container(env={"LISTEN_PORT": "{port}"}),
    )
    backend = LocalBackend(tmp_path / "containers-test", {"api": app})
    yield backend
    backend.shutdown("api")


def release(version: str, image: str) -> ReleaseView:
    return ReleaseView(1, "production", "api", version, "abc123", image, "blue", None, "ci", datetime.now(UTC))


def test_container_colours_switch_with_no_failed_request(backend: LocalBackend, image: str, docker_engine: Any) -> None:
    backend.start("api", "blue", release("1.0.0", image))
    assert wait_healthy(backend, "blue", timeout=30) is Health.HEALTHY
    backend.set_weights("api", {"blue": 100, "green": 0})
    with LoadGenerator(backend.router_url("api"), keepalive_clients=4, fresh_clients=2) as load:
        backend.start("api", "green", release("1.1.0", image))
        assert wait_healthy(backend, "green", timeout=30) is Health.HEALTHY
        for weight in (10, 50, 100):
            backend.set_weights("api", {"blue": 100 - weight, "green": weight})
            time.sleep(0.5)
        backend.stop("api", "blue")  # drains first: in-flight requests finish on blue
        load.open_window()
        time.sleep(0.5)
        last = load.open_window()
    assert load.total.requests > 100 and load.total.failures == 0, load.total.errors
    assert last.requests > 0 and set(last.by_colour) == {"green"}
    answer = httpx.get(backend.router_url("api") + "/", timeout=5).json()
    assert (answer["colour"], answer["version"]) == ("green", "1.1.0")
    details = docker_engine.inspect_container("shipyard-containers-test-api-green")
    assert details["HostConfig"]["NetworkMode"] == "host"
    assert details["HostConfig"]["ReadonlyRootfs"] is True
    assert details["Config"]["User"] == "1001:1001"
    assert "LISTEN_PORT=" + str(backend.apps["api"].ports["green"]) in details["Config"]["Env"]
    assert not any(v.startswith("PREFECT_") or v.startswith("HOME=") for v in details["Config"]["Env"])
    assert not docker_engine.containers(all=True, filters={"name": "shipyard-containers-test-api-blue"})


def test_no_value_of_a_containers_variables_is_on_an_argv(
    backend: LocalBackend, image: str, docker_engine: Any
) -> None:
    """`ps` shows every process's argv to every user of the machine: `docker run -e NAME=value` would publish the
    release's database password there."""
    secret = "its-own-password-0123456789"
    backend.apps["api"].env["DATABASE_URL"] = f"postgresql://u:{secret}@db/production"
    backend.start("api", "blue", release("1.0.0", image))
    assert wait_healthy(backend, "blue", timeout=30) is Health.HEALTHY
    assert not [argv for argv in command_lines() if secret.encode() in argv]
    details = docker_engine.inspect_container("shipyard-containers-test-api-blue")
    assert f"DATABASE_URL=postgresql://u:{secret}@db/production" in details["Config"]["Env"]


def command_lines() -> list[bytes]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # a process may end while we look
            found.append(cmdline.read_bytes())
    return found


def test_a_container_left_by_a_killed_docker_run_is_replaced(
    backend: LocalBackend, image: str, docker_engine: Any
) -> None:
    backend.start("api", "blue", release("1.0.0", image))
    assert wait_healthy(backend, "blue", timeout=30) is Health.HEALTHY
    pid = int((backend.state / "api" / "blue.pid").read_text())
    os.kill(pid, signal.SIGKILL)  # the container outlives its `docker run`
    time.sleep(0.5)
    assert docker_engine.containers(filters={"name": "shipyard-containers-test-api-blue"})
    backend.start("api", "blue", release("1.0.1", image))
    assert wait_healthy(backend, "blue", timeout=30) is Health.HEALTHY
    assert httpx.get(backend.preview_url("api", "blue") + "/", timeout=5).json()["version"] == "1.0.1"
    assert len(docker_engine.containers(filters={"name": "shipyard-containers-test-api-blue"})) == 1
