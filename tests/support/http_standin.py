"""The HTTP plumbing the stand-ins share: a threaded server on 127.0.0.1 that hands each request to a handler."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (an object or a list), extra headers
Handle = Callable[[str, str, Any, bytes], Answer]  # method, path, headers, body


def healthy_app(method: str, path: str, headers: Any, body: bytes) -> Answer:
    """An app answering 200 everywhere: the address of an app running where the tests cannot reach (ALB, ingress)."""
    return 200, {"status": "ok", "colour": "remote", "path": path}, {}


@contextmanager
def serving(handle: Handle, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve until the block ends; yields the base URL (https with `tls`, a server context)."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            code, payload, extra = handle(method, self.path, self.headers, self.rfile.read(length))
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

        def do_PUT(self) -> None:
            self.answer("PUT")

        def do_PATCH(self) -> None:
            self.answer("PATCH")

        def do_DELETE(self) -> None:
            self.answer("DELETE")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
