"""The only way out of an install's sandbox: a proxy that reaches the package registries and nothing else.

An install's sandbox has no network of its own (a loopback only). pip and npm reach their registries through this
HTTP proxy, which listens on a Unix socket in a folder bound into the sandbox; there a relay (egress_relay.py, run
by the machine's python3) turns the socket into 127.0.0.1:RELAY_PORT for HTTP(S)_PROXY. The proxy tunnels CONNECT
and forwards plain-HTTP requests to the registries' host:port pairs only. Anything else (the Prefect API, the image
registry, a cloud metadata address, another loopback port) is answered 403 with what was refused, and recorded.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

RELAY = Path(__file__).with_name("egress_relay.py")
RELAY_PORT = 3128  # inside the sandbox's own network namespace: nothing else listens there
INSIDE = "/run/shipyard-egress"  # where the proxy's folder appears in the sandbox
CONNECT_TIMEOUT = 30.0
HEAD_LIMIT = 65536


@dataclass(frozen=True, order=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def endpoint_of(url: str) -> Endpoint | None:
    """The host:port an http(s) URL reaches; None for file:// and local paths (read inside the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return Endpoint(parts.hostname.lower(), parts.port or (443 if parts.scheme == "https" else 80))


def registry_endpoints(settings: Mapping[str, str], defaults: Iterable[str] = ()) -> frozenset[Endpoint]:
    """The registries an install may reach: every index, find-links and registry URL in the settings a sandbox
    receives (shipyard.registries), and the tools' own defaults where no index replaces them."""
    urls = [*defaults]
    for name, value in settings.items():
        if name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS") or (
            name.startswith("npm_config_") and name.endswith("registry")
        ):
            urls += value.split()
    return frozenset(e for e in map(endpoint_of, urls) if e is not None)


def tool_defaults(settings: Mapping[str, str]) -> list[str]:
    """pip's default index (and its file host) unless PIP_INDEX_URL replaces it, and npm's configured registry,
    asked of the tools themselves so that no registry's name is written here."""
    urls = []
    if "PIP_INDEX_URL" not in settings and settings.get("PIP_NO_INDEX", "").lower() not in ("1", "true", "yes"):
        with contextlib.suppress(ImportError, AttributeError):
            from pip._internal.models.index import PyPI

            urls += [PyPI.simple_url, f"https://{PyPI.file_storage_domain}/"]
    if "npm_config_registry" not in settings and shutil.which("npm"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            asked = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=30)
            urls += asked.stdout.split()[:1] if asked.returncode == 0 else []
    return urls


@dataclass
class Egress:
    """A running egress: its folder (sockets and relay) to bind into a sandbox, where it let the command go and
    what it refused. Besides the proxy it may hold tunnels: a port of the sandbox's loopback carried, byte for byte,
    to one fixed endpoint (a migration's database)."""

    folder: Path
    allowed: frozenset[Endpoint]
    tunnels: Mapping[int, Endpoint] = field(default_factory=dict)
    reached: set[Endpoint] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.folder / "proxy.sock"

    def refusals(self) -> str:
        """What the proxy refused, as a line to add to a failed command's error ('' when nothing was)."""
        if not self.refused:
            return ""
        return f"\nthe sandbox's proxy refused (not a package registry): {', '.join(self.refused[:5])}"

    def env(self) -> dict[str, str]:
        """How pip and npm inside the sandbox find the proxy (the relay's port on the sandbox's loopback)."""
        url = f"http://127.0.0.1:{RELAY_PORT}"
        names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "npm_config_proxy", "npm_config_https_proxy")
        return dict.fromkeys(names, url)

    def wrap(self, command: list[str]) -> list[str]:
        """The command as run in the sandbox: under the relay, which serves the proxy until the command ends."""
        ports = {RELAY_PORT: "proxy.sock"} | {port: f"tunnel-{port}.sock" for port in self.tunnels}
        routes = [f"{port}={INSIDE}/{name}" for port, name in sorted(ports.items())]
        return ["python3", f"{INSIDE}/{RELAY.name}", *routes, "--", *command]


@contextlib.contextmanager
def egress(allowed: frozenset[Endpoint], tunnels: Mapping[int, Endpoint] | None = None) -> Iterator[Egress]:
    """Serve the proxy (and the tunnels) for the body's sandbox; stopped, with the folder removed, on exit."""
    folder = Path(tempfile.mkdtemp(prefix="shipyard-egress-"))
    folder.chmod(0o755)  # the sandbox's user connects to the sockets and reads the relay
    shutil.copy(RELAY, folder / RELAY.name)
    (folder / RELAY.name).chmod(0o644)
    gate = Egress(folder, allowed, dict(tunnels or {}))
    servers = [_Server(str(gate.socket), _Handler, gate)]
    servers += [_Server(str(folder / f"tunnel-{port}.sock"), _Tunnel, gate, to) for port, to in gate.tunnels.items()]
    threads = [threading.Thread(target=s.serve_forever, name="shipyard-egress", daemon=True) for s in servers]
    for server, thread in zip(servers, threads, strict=True):
        os.chmod(server.path, 0o666)
        thread.start()
    try:
        yield gate
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        shutil.rmtree(folder, ignore_errors=True)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, handler: type[socketserver.BaseRequestHandler], gate: Egress,
                 to: Endpoint | None = None) -> None:  # fmt: skip
        self.gate, self.to, self.path = gate, to, path
        super().__init__(path, handler)


class _Tunnel(socketserver.BaseRequestHandler):
    """Carries a connection to the one endpoint its socket stands for."""

    server: _Server

    def handle(self) -> None:
        assert self.server.to is not None
        try:
            upstream = socket.create_connection((self.server.to.host, self.server.to.port), timeout=CONNECT_TIMEOUT)
        except OSError:
            return
        self.server.gate.reached.add(self.server.to)
        with upstream:
            _pump(self.request, upstream)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(CONNECT_TIMEOUT)
        received = _read_head(client)
        if received is None:
            return
        head, _, early = received.partition(b"\r\n\r\n")  # early: what the client sent after the head
        line, _, headers = head.partition(b"\r\n")
        try:
            method, target, version = line.decode("latin-1").split(" ")
        except ValueError:
            _answer(client, 400, "a request line of METHOD TARGET VERSION")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            wanted = Endpoint(host.strip("[]").lower(), int(port)) if port.isdigit() else None
            first = early
        else:
            wanted = endpoint_of(target)
            parts = urlsplit(target)
            origin = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            request = f"{method} {origin} {version}".encode("latin-1")
            first = b"\r\n".join([request, headers] if headers else [request]) + b"\r\n\r\n" + early
        if wanted is None or wanted not in self.server.gate.allowed:
            self.server.gate.refused.append(f"{method} {target}")
            _answer(client, 403, f"shipyard: {target} is not a package registry this install may reach")
            return
        self.server.gate.reached.add(wanted)
        try:
            upstream = socket.create_connection((wanted.host, wanted.port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            _answer(client, 502, f"shipyard: {wanted} cannot be reached: {exc}")
            return
        with upstream:
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            upstream.sendall(first)
            _pump(client, upstream)


def _read_head(client: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk or len(data) > HEAD_LIMIT:
            return None
        data += chunk
    return data


def _answer(client: socket.socket, status: int, reason: str) -> None:
    body = reason.encode() + b"\n"
    title = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    head = f"HTTP/1.1 {status} {title}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    with contextlib.suppress(OSError):
        client.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)


def _pump(one: socket.socket, other: socket.socket) -> None:
    """Copy both ways until both sides have finished sending."""
    peers = {one: other, other: one}
    open_ends = 2
    with selectors.DefaultSelector() as selector:
        for end in peers:
            end.settimeout(None)
            selector.register(end, selectors.EVENT_READ)
        while open_ends:
            ready = selector.select(timeout=300)
            if not ready:
                return  # idle for five minutes: a stuck install must not hold the proxy forever
            for key, _ in ready:
                source = peers[peers[key.fileobj]]  # type: ignore[index]
                try:
                    data = source.recv(65536)
                    if data:
                        peers[source].sendall(data)
                        continue
                except OSError:
                    return
                selector.unregister(source)
                open_ends -= 1
                with contextlib.suppress(OSError):
                    peers[source].shutdown(socket.SHUT_WR)
