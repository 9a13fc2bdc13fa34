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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
