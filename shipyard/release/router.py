"""The local traffic router: one HAProxy per app, weights changed at runtime over its admin socket.

HAProxy was chosen over Caddy because a runtime `set weight` is not a reload: measured here, Caddy's admin-API
change reloads the whole config and dropped 6 of ~12,900 requests; HAProxy dropped none (ENVIRONMENT.md, and
bench/cutover.py in this repository). Requests whose connection to a colour fails are retried on the other one
(`retry-on` + `redispatch`), so a colour that dies between health checks does not fail a request either.
HTTP errors an app returns (500, 503, ...) are never retried: the rollout analysis must see them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shipyard.files import write_atomically
from shipyard.processes import stop_group
from shipyard.release.backend import COLOURS, RouterError
from shipyard.runner import run, spawn

START_TIMEOUT = 10.0
UP_TIMEOUT = 10.0
DRAIN_TIMEOUT = 10.0

_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    log stderr format raw local0 warning

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    option http-keep-alive
    option redispatch 1
    retries 3
    retry-on conn-failure empty-response junk-response response-timeout

frontend {app}
    bind 127.0.0.1:{listen}
    default_backend {app}_colours

backend {app}_colours
    balance roundrobin
    option httpchk GET {health_path}
    http-check expect status 200
{servers}
"""
_SERVER = "    server {colour} 127.0.0.1:{port} weight {weight} check inter 500ms fall 2 rise 1\n"


@dataclass(frozen=True)
class RouterSpec:
    app: str
    listen: int
    ports: dict[str, int]  # colour -> port the colour serves on
    health_path: str = "/ready"


def admin_socket(folder: Path) -> Path:
    """The admin socket of the router whose state is in `folder`. Unix socket paths are short (HAProxy: 97 bytes),
    so it lives in the temp folder, named after the state folder."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"shipyard-haproxy-{digest}.sock"


class HAProxyRouter:
    """Owns one HAProxy process for an app; its state (config, pid, socket) lives in `folder`."""

    def __init__(self, spec: RouterSpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.socket_path = admin_socket(folder)
        self.pidfile = folder / "haproxy.pid"
        self.config = folder / "haproxy.cfg"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.listen}"

    def running(self) -> bool:
        try:
            return self._command("show info").startswith("Name: HAProxy")
        except RouterError:
            return False

    def ensure_running(self, weights: dict[str, int]) -> None:
        """Start HAProxy unless it runs. It starts with the last weights it had, or with `weights` the first time."""
        if self.running():
            return
        weights = self._saved_weights() or weights
        binary = shutil.which("haproxy")
        if binary is None:
            raise RouterError("haproxy is not installed (Debian package 'haproxy'); the local backend needs it")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_config(weights)
        check = _run_quiet([binary, "-c", "-q", "-f", str(self.config)])
        if check:
            raise RouterError(f"haproxy rejected {self.config}: {check}")
        self.socket_path.unlink(missing_ok=True)
        log = self.folder / "haproxy.log"
        process = spawn([binary, "-db", "-f", str(self.config)], log=log)
        self.pidfile.write_text(str(process.pid))  # ours, not haproxy's: it must outlive this engine process
        deadline = time.monotonic() + START_TIMEOUT
        while not self.running():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:]) if log.exists() else ""
                raise RouterError(f"haproxy did not start (see {log}):\n{tail}")
            time.sleep(0.05)

    def weights(self) -> dict[str, int]:
        """Live weights read back from HAProxy."""
        return {colour: int(self._command(f"get weight {self._server(colour)}").split()[0]) for colour in COLOURS}

    def sessions(self, colour: str) -> int:
        """Requests the colour is serving right now (HAProxy's scur)."""
        return int(self._stat_rows().get(colour, {}).get("scur") or 0)

    def drain(self, colour: str, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Wait until a colour with weight 0 has finished the requests it had; False if it still has some."""
        deadline = time.monotonic() + timeout
        while self.sessions(colour) > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def status(self) -> dict[str, str]:
        """HAProxy's own view of each colour from its health checks: UP, DOWN, 'UP 1/2' (going down), ..."""
        return {colour: row["status"] for colour, row in self._stat_rows().items()}

    def _stat_rows(self) -> dict[str, dict[str, str]]:
        lines = self._command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise RouterError(f"unexpected answer to 'show stat': {lines[:1]}")
        rows = csv.DictReader([lines[0][2:], *lines[1:]])
        backend = f"{self.spec.app}_colours"
        return {r["svname"]: r for r in rows if r["pxname"] == backend and r["svname"] in COLOURS}

    def wait_until_up(self, colours: list[str], timeout: float = UP_TIMEOUT) -> None:
        """Traffic only goes to a colour the router itself has seen pass its health check."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            down = [c for c in colours if status.get(c) != "UP"]
            if not down:
                return
            if time.monotonic() > deadline:
                seen = ", ".join(f"{c}: {status.get(c)}" for c in down)
                raise RouterError(f"the router's health check does not see {seen} as UP after {timeout:g}s")
            time.sleep(0.05)

    def set_weights(self, weights: dict[str, int]) -> None:
        """Raise before lowering, so there is never a moment with every weight at zero; and only onto colours the
        router sees UP, so a weight change never points traffic at nothing."""
        for colour in weights:
            self._server(colour)  # unknown colours are refused before anything changes
        self.wait_until_up([c for c, w in weights.items() if w > 0])
        current = self.weights()
        order = sorted(weights, key=lambda colour: weights[colour] - current.get(colour, 0), reverse=True)
        for colour in order:
            answer = self._command(f"set weight {self._server(colour)} {weights[colour]}")
            if answer.strip():
                raise RouterError(f"haproxy refused weight {weights[colour]} for {colour}: {answer.strip()}")
        self._write_config(weights)
        self._save_weights(weights)  # a restarted router comes back with the same split

    def stop(self, timeout: float = 5.0) -> None:
        """Stop HAProxy now (SIGTERM is its hard stop; KILL if it lingers)."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        stop_group(pid, timeout)  # spawned in its own session, so its pid is its group
        self.socket_path.unlink(missing_ok=True)  # HAProxy leaves it behind

    def _saved_weights(self) -> dict[str, int] | None:
        try:
            saved = json.loads((self.folder / "weights.json").read_text())
        except (OSError, ValueError):
            return None
        return {str(k): int(v) for k, v in saved.items()} if isinstance(saved, dict) else None

    def _save_weights(self, weights: dict[str, int]) -> None:
        write_atomically(self.folder / "weights.json", json.dumps(weights))

    def _server(self, colour: str) -> str:
        if colour not in COLOURS:
            raise RouterError(f"unknown colour {colour!r}; colours are {', '.join(COLOURS)}")
        return f"{self.spec.app}_colours/{colour}"

    def _write_config(self, weights: dict[str, int]) -> None:
        servers = "".join(_SERVER.format(colour=c, port=self.spec.ports[c], weight=weights.get(c, 0)) for c in COLOURS)
        text = _CONFIG.format(
            socket=self.socket_path,
            app=self.spec.app,
            listen=self.spec.listen,
            health_path=self.spec.health_path,
            servers=servers,
        )
        write_atomically(self.config, text)

    def _command(self, line: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RouterError(f"haproxy admin socket {self.socket_path}: {exc}") from None
        return b"".join(chunks).decode(errors="replace")


def _run_quiet(argv: list[str]) -> str:
    result = run(argv, timeout=30)
    return "" if result.ok else result.tail(10)
