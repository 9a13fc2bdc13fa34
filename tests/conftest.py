from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployments.local_server import LocalServer, ensure_server
from shipyard.errors import ShipyardError
from shipyard.files import free_port
from shipyard.ledger import Ledger
from shipyard.processes import MARKER, kill_survivors, restore_default_signals, wait_for_none
from tests.capabilities import require
from tests.support.scheduling import LongestFirst, longest_first

# Every process the session starts carries this marker (each xdist worker has its own); at the end none may be
# left (pytest_sessionfinish).
SESSION_MARKER = f"pytest-{uuid.uuid4().hex[:12]}"
LEFT_RUNNING: list[str] = []  # this process's survivors, and on the controller each worker's


# Installs that depend only on what they install are shared by every home the tests create (and by the xdist
# workers): pinned scanners once per checkout (about a minute); toolchains and the sample's dependencies (about 90
# CPU seconds a home) once per checkout too. Tests about installing use a cache of their own.
SHARED_TOOLS = Path(__file__).resolve().parent.parent / ".shipyard" / "tools"
SHARED_CACHE = SHARED_TOOLS.parent / "cache"


def pytest_configure(config: pytest.Config) -> None:
    restore_default_signals()  # children started by a backgrounded `make test` must still stop on SIGTERM
    os.environ[MARKER] = SESSION_MARKER
    os.environ["SHIPYARD_TOOLS"] = str(SHARED_TOOLS)
    os.environ["SHIPYARD_CACHE"] = str(SHARED_CACHE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    longest_first(items)


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LongestFirst:
    """Under `-n`, whatever --dist says: a file per worker at a time, longest first (tests/support/scheduling.py)."""
    return LongestFirst(config, log)


@pytest.hookimpl(trylast=True)  # after xdist stopped its workers: they were started with the controller's marker
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if any process it started outlived it (they are listed, then killed)."""
    survivors = wait_for_none(SESSION_MARKER, timeout=10)
    kill_survivors(survivors)
    LEFT_RUNNING.extend(str(s) for s in survivors)
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output["left_running"] = LEFT_RUNNING  # the controller reports them and fails the run
    if LEFT_RUNNING:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker finished: what it left running counts against the whole run."""
    LEFT_RUNNING.extend(getattr(node, "workeroutput", {}).get("left_running", []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    terminalreporter.write_line(f"skipped tests: {len(terminalreporter.stats.get('skipped', []))}")
    if LEFT_RUNNING:
        terminalreporter.write_line("processes this test session started and left running (now killed):", red=True)
        for survivor in LEFT_RUNNING:
            terminalreporter.write_line(f"  {survivor}", red=True)


@pytest.fixture(scope="session")
def prefect_server(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real `prefect server` on a free 127.0.0.1 port, with its own PREFECT_HOME, on a database of the session's
    PostgreSQL server (as Prefect recommends beyond one user: on SQLite it answered "database is locked" under the
    suite's load)."""
    import sqlalchemy as sa

    from shipyard.postgres import new_database

    home = tmp_path_factory.mktemp("prefect-home")
    with new_database(postgres_server, prefix="prefect") as url:
        database = sa.make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        try:
            server = ensure_server(free_port(), home / "server.log", prefect_home=home, database_url=database)
        except ShipyardError as exc:
            require(False, f"prefect server: {exc}")
            raise
        yield server
        server.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A migrated ledger in a SQLite file of the test's own (tests/shipyard/ledger runs its own on PostgreSQL too)."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.migrate()
    yield ledger
    ledger.close()


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on the machine's loopback with something listening: the Prefect API, a registry, anything a sandboxed
    command must not reach."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture(scope="session")
def shipyard_env(prefect_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for running the `shipyard` CLI against the test server, with a fresh home (installs shared)."""
    client_home = tmp_path_factory.mktemp("prefect-client")
    return dict(
        os.environ,
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_UI_URL=prefect_server.ui_url,
        PREFECT_HOME=str(client_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        SHIPYARD_HOME=str(tmp_path_factory.mktemp("shipyard-home")),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One throwaway PostgreSQL server for the session (URL of its `postgres` database)."""
    from shipyard.postgres import PostgresUnavailable, temporary_postgres

    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        require(False, f"PostgreSQL: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    from shipyard.postgres import new_database

    with new_database(request.getfixturevalue("postgres_server"), prefix="test") as url:
        yield url


@pytest.fixture
def own_tmpdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary folder of the test's own, for this process (tempfile) and its children (TMPDIR), so a test that
    looks for what it left behind does not see what tests running beside it made. Short and world-traversable:
    a PostgreSQL server runs as another user and puts its socket there."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="shipyard-test-"))
    folder.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine() -> Any:
    """The low-level API client of a running Docker engine (.ci/run starts one)."""
    from tasks.images import docker_api

    api = docker_api()
    if isinstance(api, str):
        require(False, api)
    return api


@pytest.fixture(scope="session")
def base_images(docker_engine: Any) -> None:
    """The local base images the sample's Dockerfiles build on (made once per machine, then reused)."""
    from shipyard.images.bootstrap import bootstrap
    from shipyard.toolchains import locked

    try:
        with locked(SHARED_TOOLS.parent / "base-images"):  # one xdist worker builds them, the others wait
            bootstrap(docker_engine)
    except ShipyardError as exc:
        require(False, f"base images: {exc}")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A fresh registry on a free 127.0.0.1 port; yields host:port."""
    yield from _registry(tmp_path, None)


def _registry(tmp_path: Path, htpasswd: Path | None) -> Iterator[str]:
    from shipyard.images.local_registry import RegistryUnavailable, start_registry
    from shipyard.runner import stop

    port = free_port()
    try:
        process = start_registry(port, tmp_path / "registry", htpasswd)
    except RegistryUnavailable as exc:
        require(False, str(exc))
        return
    yield f"127.0.0.1:{port}"
    stop(process)


REGISTRY_USER, REGISTRY_PASSWORD = "shipyard", "registry-pass-5519"


@pytest.fixture
def private_registry(tmp_path: Path) -> Iterator[str]:
    """A registry that wants REGISTRY_USER / REGISTRY_PASSWORD (htpasswd, bcrypt)."""
    import crypt

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{REGISTRY_USER}:{crypt.crypt(REGISTRY_PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
    yield from _registry(tmp_path, htpasswd)
