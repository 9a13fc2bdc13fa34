"""The install sandbox's only way out, attacked: the allow-list proxy reaches the registries and nothing else."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.config.apps import App
from shipyard.deps import install
from shipyard.egress import Endpoint, egress, endpoint_of, registry_endpoints
from shipyard.git import git
from shipyard.home import Home
from shipyard.runner import run
from shipyard.sample import commit_all
from shipyard.sandbox import Sandbox, sandboxed
from shipyard.toolchains import resolve
from tests.capabilities import require


class Listener:
    """A port on the machine's loopback that answers every connection with a line and records who came."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with client:
                client.settimeout(5)
                try:
                    self.received.append(client.recv(4096))
                    client.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nREACHED\n")
                except OSError:
                    pass


@pytest.fixture
def registry() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.server.close()


@pytest.fixture
def elsewhere() -> Iterator[Listener]:
    """Stands for anything that is not a registry: the Prefect API, the image registry, a metadata service."""
    listener = Listener()
    yield listener
    listener.server.close()


def through(socket_path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(socket_path))
        client.sendall(request)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
        return answer


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://index.test/simple/", Endpoint("index.test", 443)),
        ("http://127.0.0.1:8081/simple", Endpoint("127.0.0.1", 8081)),
        ("HTTPS://Registry.Test:8443/", Endpoint("registry.test", 8443)),
        ("file:///opt/pypi/simple", None),
        ("/opt/wheels", None),
    ],
)
def test_the_host_and_port_a_registry_url_reaches(url: str, expected: Endpoint | None) -> None:
    assert endpoint_of(url) == expected


def test_the_allowed_endpoints_are_the_registries_in_the_settings_and_the_tools_defaults() -> None:
    settings = {
        "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple http://127.0.0.1:9001/simple",
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_CERT": "https://not-a-registry.test/ca.pem",
        "npm_config_registry": "https://npm.test/",
        "npm_config_@acme:registry": "https://acme.test:4873/",
    }
    assert registry_endpoints(settings, ["https://default.test/simple/"]) == {
        Endpoint("127.0.0.1", 9001), Endpoint("npm.test", 443), Endpoint("acme.test", 4873),
        Endpoint("default.test", 443),
    }  # fmt: skip


def test_a_registry_is_tunnelled_and_anything_else_refused(registry: Listener, elsewhere: Listener) -> None:
    there = f"127.0.0.1:{registry.port}"
    with egress(frozenset({Endpoint("127.0.0.1", registry.port)})) as gate:
        tunnelled = through(gate.socket, f"CONNECT {there} HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n".encode())
        forwarded = through(gate.socket, f"GET http://{there}/simple/x/ HTTP/1.1\r\nHost: y\r\n\r\n".encode())
        refused = through(gate.socket, f"CONNECT 127.0.0.1:{elsewhere.port} HTTP/1.1\r\n\r\n".encode())
        refused_get = through(gate.socket, f"GET http://127.0.0.1:{elsewhere.port}/ HTTP/1.1\r\n\r\n".encode())
        metadata = through(gate.socket, b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n")
    assert tunnelled.startswith(b"HTTP/1.1 200 Connection established") and b"REACHED" in tunnelled
    assert b"REACHED" in forwarded and registry.received[-1].startswith(b"GET /simple/x/ HTTP/1.1\r\n")
    for answer in (refused, refused_get, metadata):
        assert answer.startswith(b"HTTP/1.1 403") and b"is not a package registry" in answer, answer
    assert elsewhere.received == []
    assert gate.refused == [
        f"CONNECT 127.0.0.1:{elsewhere.port}", f"GET http://127.0.0.1:{elsewhere.port}/",
        "GET http://169.254.169.254/latest/meta-data/",
    ]  # fmt: skip


def test_inside_the_sandbox_only_the_registry_answers(tmp_path: Path, registry: Listener, elsewhere: Listener) -> None:
    """What an install script can do: connect straight to a loopback port (the sandbox's loopback is its own), or
    ask the proxy for one that is not a registry; only the registry is reached."""
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    work = tmp_path / "work"
    work.mkdir()
    script = f"""
import os, socket, urllib.request
for port in ({elsewhere.port}, 4200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close(); print("DIRECT", port, "CONNECTED")
    except OSError as exc:
        print("DIRECT", port, "FAILED", exc)
for port in ({elsewhere.port}, {registry.port}):
    try:
        print("PROXY", port, urllib.request.urlopen(f"http://127.0.0.1:{{port}}/", timeout=10).read().decode().strip())
    except Exception as exc:
        print("PROXY", port, "FAILED", exc)
"""
    with egress(frozenset({Endpoint("127.0.0.1", registry.port)})) as gate:
        sandbox = Sandbox(writable=(work,), env={"PATH": "/usr/bin:/bin", "HOME": str(work)} | gate.env())
        result = run(sandboxed(replace(sandbox, egress=gate), ["python3", "-c", script], work), timeout=60)
    seen = result.stdout + result.stderr
    assert result.ok, seen
    assert f"DIRECT {elsewhere.port} FAILED" in seen and "DIRECT 4200 FAILED" in seen, seen
    assert f"PROXY {elsewhere.port} FAILED HTTP Error 403" in seen, seen
    assert f"PROXY {registry.port} REACHED" in seen, seen
    assert elsewhere.received == [] and len(registry.received) == 1


def test_a_tunnel_carries_its_one_port_only(tmp_path: Path, registry: Listener, elsewhere: Listener) -> None:
    """A migration's database: the sandbox's 127.0.0.1:PORT reaches it; every other port stays the sandbox's own."""
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    work = tmp_path / "work"
    work.mkdir()
    database = registry  # stands for the throwaway PostgreSQL server
    script = f"""
import socket
for port in ({database.port}, {elsewhere.port}):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"hello"); print(port, conn.recv(100).decode().split()[-1])
    except OSError as exc:
        print(port, "FAILED", exc)
"""
    with egress(frozenset(), {database.port: Endpoint("127.0.0.1", database.port)}) as gate:
        sandbox = Sandbox(writable=(work,), env={"PATH": "/usr/bin:/bin", "HOME": str(work)}, egress=gate)
        result = run(sandboxed(sandbox, ["python3", "-c", script], work), timeout=60)
    seen = result.stdout + result.stderr
    assert f"{database.port} REACHED" in seen and f"{elsewhere.port} FAILED" in seen, seen
    assert database.received == [b"hello"] and elsewhere.received == []


SETUP_PY = """
import os, socket, urllib.request
from setuptools import setup

attempts = []
for port in (4200, {listener}):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        attempts.append(f"direct {{port}} connected")
    except OSError as exc:
        attempts.append(f"direct {{port}} failed: {{exc}}")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{{port}}/", timeout=10)
        attempts.append(f"proxy {{port}} connected")
    except Exception as exc:
        attempts.append(f"proxy {{port}} failed: {{exc}}")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "attempts.txt"), "a") as report:
    report.write("\\n".join(attempts) + "\\n")
setup(name="lockfile-attack", version="1.0", py_modules=[])
"""


@pytest.fixture
def prefect_port() -> Iterator[Listener | None]:
    """A listener on 4200, where the Prefect API usually is (None when something already listens there: the
    attempt must fail all the same, and the test then sees it in the attempts only)."""
    try:
        listener = Listener.__new__(Listener)
        listener.server = socket.create_server(("127.0.0.1", 4200))
    except OSError:
        yield None
        return
    listener.port, listener.received = 4200, []
    threading.Thread(target=listener._serve, daemon=True).start()
    yield listener
    listener.server.close()


@pytest.mark.slow
def test_a_setup_py_in_the_lockfile_reaches_neither_the_prefect_api_nor_another_port_and_the_install_succeeds(
    tmp_path: Path, elsewhere: Listener, prefect_port: Listener | None
) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    repo = tmp_path / "repo"
    package = repo / "apps" / "attack" / "pkg"
    package.mkdir(parents=True)
    (package / "setup.py").write_text(SETUP_PY.format(listener=elsewhere.port))
    (repo / "apps" / "attack" / "requirements.lock").write_text("./pkg\n")
    git("init", "--quiet", cwd=repo)
    sha = commit_all(repo, "a lockfile with an install script")
    app = App(path="apps/attack", toolchain="python", versions=["3.11"], lockfile="requirements.lock",
              checks={"lint": "true"})  # fmt: skip
    toolchain = resolve("python", "3.11", Home.from_env().toolchains)
    prepared = install("attack", app, toolchain, repo, sha, tmp_path / "store")
    attempts = (Path(prepared.root) / "src" / "pkg" / "attempts.txt").read_text()
    for port in (4200, elsewhere.port):
        assert f"direct {port} failed" in attempts and f"proxy {port} failed: HTTP Error 403" in attempts, attempts
    assert "connected" not in attempts, attempts
    assert elsewhere.received == [] and (prefect_port is None or prefect_port.received == [])
