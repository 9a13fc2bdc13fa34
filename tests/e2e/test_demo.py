"""`make demo` fails well: a step that cannot run gives one line (what, why, what to do), exit 1, no traceback, and
nothing the demo started is left running except what it names as left on purpose."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from deployments.local_server import LocalServer
from shipyard.processes import marked

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow
SAMPLE_PORTS = [base + i for base in (8080, 8180, 8280) for i in range(3)]


def free_offset() -> int:
    """The sample's ports shifted where none is taken: a developer's own demo may hold the usual ones."""
    for offset in range(20000, 40000, 1000):
        if all(not listening(port + offset) for port in SAMPLE_PORTS):
            return offset
    raise AssertionError("no free range for the sample's nine ports")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_demo_whose_router_cannot_run_stops_in_one_line_with_no_traceback_and_no_survivor(
    prefect_server: LocalServer, shipyard_env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "haproxy").write_text(
        "#!/bin/sh\necho 'haproxy: cannot execute (made to fail by the test)' >&2\nexit 126\n"
    )
    (broken / "haproxy").chmod(0o755)
    env = dict(shipyard_env, SHIPYARD_HOME=str(tmp_path / "home"), PATH=f"{broken}:{shipyard_env['PATH']}")
    command = ["make", "--no-print-directory", "demo", f"PORT={prefect_server.port}", f"DEMO_REPO={tmp_path / 'repo'}",
               f"DEMO_PORT_OFFSET={free_offset()}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    failed = [line for line in done.stderr.splitlines() if line.startswith("demo failed at ")]
    assert len(failed) == 1, output[-4000:]
    assert failed[0].startswith("demo failed at staging-deploy: Failed: "), failed
    assert "haproxy" in failed[0] and "see the run: http://127.0.0.1:" in failed[0], failed
    assert "prefect worker (pid " in done.stdout and "after SIGTERM" in done.stdout, done.stdout[-3000:]
    found = re.search(r"SHIPYARD_RUN_MARKER=(demo-[0-9a-f]+)", done.stdout)
    assert found, done.stdout[:2000]
    kept = [int(pid) for pid in re.findall(r"^  .* \(pid (\d+)\)$", done.stdout, re.MULTILINE)]
    assert marked(found.group(1), spared_sessions=kept) == []
    assert "still running from this demo" not in done.stderr
