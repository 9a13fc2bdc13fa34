"""A stand-in for GitHub's commit status API on 127.0.0.1: checks what GitHub checks, records what it accepted.

It rejects what the real API rejects (bad credentials 401, invalid state / long description / bad SHA 422) and can
be told to fail the next N requests (503, or 429 with Retry-After) to exercise retries.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STATES = {"error", "failure", "pending", "success"}
STATUS_PATH = re.compile(r"^/repos/(?P<repo>[\w.-]+/[\w.-]+)/statuses/(?P<sha>[^/]+)$")


@dataclass
class GitHubStandIn:
    token: str
    url: str = ""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # status codes to answer with before accepting again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def contexts(self, sha: str) -> dict[str, list[str]]:
        """The states each context went through for one commit, in order."""
        seen: dict[str, list[str]] = {}
        for status in self.statuses:
            if status["sha"] == sha:
                seen.setdefault(status["context"], []).append(status["state"])
        return seen

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            if headers.get("Authorization") not in (f"Bearer {self.token}", f"token {self.token}"):
                return self._reject(401, "Bad credentials")
            if self.fail_next:
                code = self.fail_next.pop(0)
                extra = {"Retry-After": "1"} if code == 429 else {}
                return code, {"message": "Service unavailable (stand-in)"}, extra
            match = STATUS_PATH.match(path)
            if method != "POST" or match is None:
                return self._reject(404, "Not Found")
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                return self._reject(400, "Problems parsing JSON")
            problem = _invalid(match["sha"], payload)
            if problem:
                return self._reject(422, f"Validation Failed: {problem}")
            self.statuses.append({"repo": match["repo"], "sha": match["sha"], **payload})
            return 201, {"state": payload["state"], "context": payload.get("context", "default")}, {}

    def _reject(self, code: int, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.rejected.append((code, message))
        return code, {"message": message}, {}


def _invalid(sha: str, payload: Any) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        return "sha must be a 40-character commit id"
    if not isinstance(payload, dict) or payload.get("state") not in STATES:
        return f"state must be one of {sorted(STATES)}"
    if len(payload.get("description") or "") > 140:
        return "description is too long (maximum is 140 characters)"
    if "target_url" in payload and not str(payload["target_url"]).startswith(("http://", "https://")):
        return "target_url must be an http(s) URL"
    return None


@contextmanager
def github_standin(token: str) -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn(token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            code, payload, extra = standin.handle("POST", self.path, self.headers, self.rfile.read(length))
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
