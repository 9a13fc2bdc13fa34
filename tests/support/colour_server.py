"""A tiny HTTP/1.1 keep-alive server that says which colour it is: the stand-in app behind the router in tests.

Run: python -m tests.support.colour_server PORT COLOUR [--fail-from-file PATH]
(or with no arguments and PORT, SHIPYARD_COLOUR in the environment, as in its test image)
While PATH exists, every request but /health answers 500 (to test analysis and rollback). A release whose
APP_VERSION ends in "-bad" answers 500 everywhere but /health and /ready; one ending in "-unready" never gets ready.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(port: int, colour: str, fail_flag: Path | None) -> None:
    version = os.environ.get("APP_VERSION", "")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            flagged = fail_flag is not None and fail_flag.exists() and self.path != "/health"
            broken = version.endswith("-bad") and self.path not in ("/health", "/ready")
            unready = version.endswith("-unready") and self.path == "/ready"
            status = 500 if flagged or broken else 503 if unready else 200
            body = f'{{"colour": "{colour}", "version": "{version}", "path": "{self.path}"}}'.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Colour", colour)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the router closing idle connections is not news

    Server(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 1:  # in a container: the local backend passes the port and colour as variables
        serve(int(os.environ["PORT"]), os.environ["SHIPYARD_COLOUR"], None)
    flag = Path(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--fail-from-file" else None
    serve(int(sys.argv[1]), sys.argv[2], flag)
