"""A registry on 127.0.0.1 (Debian's docker-registry, distribution 2.8) with its own config and storage."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from shipyard import tls
from shipyard.errors import ShipyardError
from shipyard.runner import spawn, stop

READY_SECONDS = 15


class RegistryUnavailable(ShipyardError):
    pass


def start_registry(port: int, folder: Path, htpasswd: Path | None = None) -> subprocess.Popen[bytes]:
    """Never the packaged config: that one listens on every interface."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = f"auth:\n  htpasswd: {{realm: shipyard, path: {htpasswd}}}\n" if htpasswd else ""
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage:\n  filesystem: {{rootdirectory: {folder / 'data'}}}\n  delete: {{enabled: true}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n{auth}"
    )
    try:
        process = spawn(["docker-registry", "serve", str(config)], log=folder / "registry.log")
    except ShipyardError as exc:
        raise RegistryUnavailable(f"docker-registry (Debian package docker-registry) cannot start: {exc}") from None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1, verify=tls.context()).status_code in (200, 401):
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    stop(process)
    raise RegistryUnavailable(f"registry on 127.0.0.1:{port} did not answer within {READY_SECONDS}s")
