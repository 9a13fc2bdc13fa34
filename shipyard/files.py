"""Small file and port helpers shared by the core."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old content or the new, never half of it (a crash mid-write leaves the old file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed out before.

    The kernel may give the same free port to two binds in a row; callers take several before starting anything
    (a router and its two colours), so a repeat would put two servers on one port."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
