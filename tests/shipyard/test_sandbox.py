"""The sandbox, attacked from inside: what a pull request's command can see, reach and leave behind."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.runner import run, shell
from shipyard.sandbox import SANDBOX_USER, Sandbox, read_back, sandboxed
from tests.capabilities import require
from tests.support.probes import processes_named

SECRET = "ghp_sandbox_secret_0123456789"


@pytest.fixture(autouse=True)
def _bubblewrap() -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Sandbox, Path, Path]]:
    work, home = tmp_path / "work", tmp_path / "shipyard-home"
    work.mkdir()
    home.mkdir()
    (home / "ledger.db").write_text(SECRET)
    os.environ["SHIPYARD_SANDBOX_TEST_TOKEN"] = SECRET  # the flow's own environment holds a secret
    sandbox = Sandbox(writable=(work,), env={"PATH": "/usr/bin:/bin", "HOME": str(work)})
    try:
        yield sandbox, work, home
    finally:
        del os.environ["SHIPYARD_SANDBOX_TEST_TOKEN"]


def inside(sandbox: Sandbox, script: str, cwd: Path, timeout: float = 60) -> str:
    result = run(sandboxed(sandbox, shell(f"set +e; {script}"), cwd), timeout=timeout)
    return result.stdout + result.stderr


def test_the_command_sees_no_secret_no_process_and_no_hidden_file(box: tuple[Sandbox, Path, Path]) -> None:
    sandbox, work, home = box
    seen = inside(sandbox, f"env; cat /proc/*/environ | tr '\\0' '\\n'; ls /proc; ls -a {home} /root /run /tmp; "
                           f"cat {home}/ledger.db; ls /var/run/docker.sock; id -u", work)  # fmt: skip
    assert SECRET not in seen
    assert "SHIPYARD_SANDBOX_TEST_TOKEN" not in seen
    pids = sorted(int(p) for p in seen.split() if p.isdigit() and int(p) < 100)
    assert pids and max(pids) < 20, seen  # only the sandbox's own few processes
    assert "ledger.db: No such file" in seen and "docker.sock': No such file" in seen
    if os.geteuid() == 0:
        assert str(SANDBOX_USER) in seen.split()


def test_the_command_writes_only_its_own_folder(box: tuple[Sandbox, Path, Path], tmp_path: Path) -> None:
    sandbox, work, _ = box
    outside = tmp_path / "outside.txt"
    seen = inside(sandbox, f"echo ok > {work}/made.txt; echo no > {outside}; echo no > /usr/local/poisoned", work)
    assert (work / "made.txt").read_text() == "ok\n"
    assert not outside.exists() and not Path("/usr/local/poisoned").exists()
    assert seen.count("Read-only file system") + seen.count("Permission denied") + seen.count("No such file") >= 2


def test_the_command_reaches_no_port_of_the_machine(box: tuple[Sandbox, Path, Path], listener: int) -> None:
    sandbox, work, _ = box
    seen = inside(sandbox, f"(exec 3<>/dev/tcp/127.0.0.1/{listener}) && echo CONNECTED || echo REFUSED", work)
    assert "REFUSED" in seen and "CONNECTED" not in seen


def test_a_timeout_ends_every_process_the_command_started_setsid_or_not(box: tuple[Sandbox, Path, Path]) -> None:
    sandbox, work, _ = box
    tag = f"sandbox-escape-{uuid.uuid4().hex[:8]}"
    result = run(sandboxed(sandbox, shell(f"setsid bash -c 'exec -a {tag} sleep 300' & sleep 300"), work), timeout=2)
    assert result.timed_out
    deadline = time.monotonic() + 5
    while (left := processes_named(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_a_report_the_command_links_to_a_file_of_the_machine_is_not_read_back(
    box: tuple[Sandbox, Path, Path], tmp_path: Path
) -> None:
    sandbox, work, _ = box
    private = tmp_path / "private.key"
    private.write_text(SECRET)
    inside(sandbox, f"ln -s {private} coverage.xml; mkdir reports; echo '<ok/>' > reports/junit.xml", work)
    assert (work / "coverage.xml").is_symlink()
    assert read_back(work / "coverage.xml", work) is None
    assert read_back(work / "reports" / "junit.xml", work) == b"<ok/>\n"
    assert read_back(work / ".." / "private.key", work) is None  # outside the folder it wrote
