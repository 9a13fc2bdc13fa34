"""Blue and green stand-in apps behind a real HAProxy, for router tests and benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from shipyard.files import free_port
from shipyard.release.router import HAProxyRouter, RouterSpec
from shipyard.runner import spawn, stop

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "colour_server.py"  # runs as a script: no package path needed


@dataclass
class Colours:
    router: HAProxyRouter
    servers: dict[str, subprocess.Popen[bytes]]
    fail_flags: dict[str, Path]


@contextmanager
def blue_green(folder: Path, weights: dict[str, int]) -> Iterator[Colours]:
    ports = {"blue": free_port(), "green": free_port()}
    flags = {colour: folder / f"{colour}.fail" for colour in ports}
    servers = {
        colour: spawn(
            [sys.executable, str(SERVER), str(port), colour, "--fail-from-file", str(flags[colour])],
            log=folder / f"{colour}.log",
        )
        for colour, port in ports.items()
    }
    router = HAProxyRouter(RouterSpec("api", free_port(), ports), folder / "router")
    try:
        for port in ports.values():
            _wait_for(f"http://127.0.0.1:{port}/ready")
        router.ensure_running(weights)
        _wait_for(router.url + "/ready")
        yield Colours(router, servers, flags)
    finally:
        router.stop()
        for colour, server in servers.items():
            stop(server, f"{colour} stand-in")


def _wait_for(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in {timeout:g}s")
        time.sleep(0.05)
