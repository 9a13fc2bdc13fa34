"""The local backend with real processes and a real HAProxy: start, health, weights, stop, find again."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard.environment import CARRIED
from shipyard.files import free_port
from shipyard.ledger import ReleaseView
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.probe import LoadGenerator
from shipyard.release.rollout import Health
from tests.capabilities import require_tools
from tests.support.colours import ROOT, SERVER


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    require_tools("haproxy")
    flag = tmp_path / "fail-while-this-exists"
    command = f"{sys.executable} {SERVER} {{port}} $SHIPYARD_COLOUR --fail-from-file {flag}"
    app = LocalApp(
        command=command, cwd=ROOT, router_port=free_port(), ports={"blue": free_port(), "green": free_port()}
    )
    backend = LocalBackend(tmp_path / "state", {"api": app})
    yield backend
    backend.shutdown("api")


def release(version: str) -> ReleaseView:
    return ReleaseView(
        1, "production", "api", version, "abc123", "registry/api:" + version, "blue", None, "ci", datetime.now(UTC)
    )


def wait_healthy(backend: LocalBackend, colour: str, timeout: float = 15) -> Health:
    deadline = time.monotonic() + timeout
    health = backend.health("api", colour)
    while health is not Health.HEALTHY and time.monotonic() < deadline:
        time.sleep(0.1)
        health = backend.health("api", colour)
    return health


def test_blue_green_switch_with_real_processes_fails_no_request(backend: LocalBackend) -> None:
    backend.start("api", "blue", release("1.0.0"))
    assert wait_healthy(backend, "blue") is Health.HEALTHY
    backend.set_weights("api", {"blue": 100, "green": 0})
    with LoadGenerator(backend.router_url("api"), keepalive_clients=4, fresh_clients=2) as load:
        backend.start("api", "green", release("1.1.0"))
        assert wait_healthy(backend, "green") is Health.HEALTHY
        for weight in (10, 50, 100):
            backend.set_weights("api", {"blue": 100 - weight, "green": weight})
            time.sleep(0.5)
        assert backend.weights("api") == {"blue": 0, "green": 100}
        backend.stop("api", "blue")
        load.open_window()
        time.sleep(0.5)
        last = load.open_window()
    assert load.total.failures == 0, load.total.errors
    assert last.requests > 0 and set(last.by_colour) == {"green"}
    assert not backend.running("api", "blue") and backend.running("api", "green")


def test_a_colour_that_is_not_ready_is_unhealthy(backend: LocalBackend, tmp_path: Path) -> None:
    (tmp_path / "fail-while-this-exists").touch()
    backend.start("api", "green", release("1.0.0"))
    time.sleep(1.0)
    assert backend.running("api", "green")
    assert backend.health("api", "green") is Health.UNHEALTHY


def test_a_new_backend_object_finds_running_colours(backend: LocalBackend) -> None:
    backend.start("api", "blue", release("1.0.0"))
    assert wait_healthy(backend, "blue") is Health.HEALTHY
    backend.set_weights("api", {"blue": 100, "green": 0})
    again = LocalBackend(backend.state, backend.apps)  # as after an engine crash
    assert again.running("api", "blue") and not again.running("api", "green")
    assert again.weights("api") == {"blue": 100, "green": 0}


def test_stop_leaves_no_process(backend: LocalBackend) -> None:
    backend.start("api", "blue", release("1.0.0"))
    assert wait_healthy(backend, "blue") is Health.HEALTHY
    pid = int((backend.state / "api" / "blue.pid").read_text())
    backend.stop("api", "blue")
    from shipyard.processes import process_alive

    assert not process_alive(pid) and backend.health("api", "blue") is Health.UNHEALTHY


def test_stopping_everything_leaves_no_process_and_no_router_socket(backend: LocalBackend) -> None:
    from shipyard.release.local import running_processes, stop_everything
    from shipyard.release.router import admin_socket

    backend.start("api", "blue", release("1.0.0"))
    assert wait_healthy(backend, "blue") is Health.HEALTHY
    backend.set_weights("api", {"blue": 100, "green": 0})  # starts the router
    socket = admin_socket(backend.state / "api" / "router")
    assert socket.exists()
    stop_everything(backend.state.parent)  # `shipyard demo down`
    assert running_processes(backend.state.parent) == {} and not socket.exists()


def test_a_colour_gets_its_releases_variables_and_none_of_the_engines(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_engine_secret_0123456789")
    monkeypatch.setenv("STAGING_DATABASE_URL", "postgresql://u:other-environments-password@db/staging")
    backend.apps["api"].env["DATABASE_URL"] = "postgresql://u:its-own-password@db/production"
    backend.start("api", "blue", release("1.0.0"))
    assert wait_healthy(backend, "blue") is Health.HEALTHY
    pid = int((backend.state / "api" / "blue.pid").read_text())
    environ = dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v)
    assert environ["DATABASE_URL"].endswith("its-own-password@db/production")
    port = str(backend.apps["api"].ports["blue"])
    assert (environ["APP_VERSION"], environ["SHIPYARD_COLOUR"], environ["PORT"]) == ("1.0.0", "blue", port)
    assert "GITHUB_TOKEN" not in environ and "STAGING_DATABASE_URL" not in environ
    release_own = {"DATABASE_URL", "APP_VERSION", "GIT_SHA", "SHIPYARD_ARTIFACT", "PORT", "SHIPYARD_COLOUR", "PATH"}
    # The colour's command runs under bash, which sets PWD, SHLVL and _ for itself.
    shell_own = {"PWD", "SHLVL", "_", "OLDPWD"}
    assert set(environ) - release_own - shell_own <= set(CARRIED) | {k for k in environ if k.startswith("LC_")}, environ
