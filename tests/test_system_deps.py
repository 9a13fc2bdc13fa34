"""scripts/system-deps.sh: the Debian packages `make demo` and `make test` need, installed only when missing; a
user who cannot install them is told the one command to run, and nothing is changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.capabilities import require

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-deps.sh"


def test_without_root_or_sudo_it_changes_nothing_and_prints_the_apt_command() -> None:
    require(os.geteuid() == 0, "root, to run the script as an unprivileged user")
    # A PATH without /usr/sbin: haproxy (and dockerd) look missing to the unprivileged user. The script comes on
    # stdin: the checkout may sit in a folder only root can enter.
    done = subprocess.run(
        ["runuser", "-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent", "bash", "-s",
         "demo"],
        input=SCRIPT.read_text(), capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    (missing,) = [line for line in done.stderr.splitlines() if "missing Debian packages for 'demo': " in line]
    packages = missing.split(": ", 2)[2].split()
    assert "haproxy" in packages
    assert f"run this once as root, then again: apt-get install -y {' '.join(packages)}" in done.stderr
    assert "installing" not in done.stdout


def test_an_unknown_purpose_is_refused_with_the_usage() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "everything"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "usage:" in done.stderr and "demo|test" in done.stderr


@pytest.mark.parametrize("purpose", ["demo", "test"])
def test_on_a_machine_that_has_everything_it_installs_nothing(purpose: str) -> None:
    done = subprocess.run(["bash", str(SCRIPT), purpose], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing" not in done.stdout
