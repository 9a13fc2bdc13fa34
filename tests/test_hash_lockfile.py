"""scripts/hash_lockfile.py, run as a team runs it, against an interpreter stand-in whose pip answers with a report
recorded in the shape `pip install --dry-run --report -` writes (no index needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shipyard.security.lockfiles import unhashed_requirements

SCRIPT = Path(__file__).parents[1] / "scripts" / "hash_lockfile.py"
SHA = {"click": "c1" * 32, "colorama": "c0" * 32, "mako": "ab" * 32, "markupsafe": "cd" * 32}


def interpreter(tmp_path: Path, installs: list[tuple[str, str]]) -> Path:
    """A `python` whose `-c` probe prints the platform and whose pip reports installing `installs`."""
    report = {
        "version": "1",
        "install": [
            {
                "metadata": {"name": name, "version": version},
                "download_info": {
                    "url": f"file:///w/{name}.whl",
                    "archive_info": {"hashes": {"sha256": SHA[name.lower()]}},
                },
            }
            for name, version in installs
        ],
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/calls\n'
        f'if [ "$1" = -c ]; then echo CPython 3.11 linux x86_64; else cat {tmp_path}/report.json; fi\n'
    )
    python.chmod(0o755)
    return python


def hash_lockfile(python: Path, *lockfiles: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(SCRIPT), "--python", str(python), *map(str, lockfiles)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_every_pin_gets_its_hash_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# Locked dependencies of the api app.\nMako==1.4.3\nMarkupSafe==3.0.4  # Mako's\n")
    python = interpreter(tmp_path, [("Mako", "1.4.3"), ("MarkupSafe", "3.0.4")])
    assert hash_lockfile(python, lock).returncode == 0
    first = lock.read_text()
    assert first == (
        "# Locked dependencies of the api app.\n"
        "# Hashes: for CPython 3.11 linux x86_64, by Shipyard's scripts/hash_lockfile.py "
        "(run it after a change of pin)\n"
        f"Mako==1.4.3 \\\n    --hash=sha256:{SHA['mako']}\n"
        f"MarkupSafe==3.0.4 \\\n    --hash=sha256:{SHA['markupsafe']}\n"
    )
    assert unhashed_requirements(first) == (2, [])
    assert hash_lockfile(python, lock).returncode == 0
    assert lock.read_text() == first
    assert (
        "--dry-run --ignore-installed --quiet --report - Mako==1.4.3 MarkupSafe==3.0.4"
        in (tmp_path / "calls").read_text()
    )


def test_a_package_the_pins_need_but_do_not_name_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("click==8.5.1\n")
    done = hash_lockfile(interpreter(tmp_path, [("click", "8.5.1"), ("colorama", "0.4.6")]), lock)
    assert done.returncode == 1
    assert "the pins need packages the lock file does not name: colorama==0.4.6" in done.stderr
    assert lock.read_text() == "click==8.5.1\n"


def test_a_pin_that_is_not_exact_is_refused_before_pip_runs(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("click>=8\n")
    done = hash_lockfile(interpreter(tmp_path, []), lock)
    assert done.returncode == 1 and "'click>=8' is not an exact pin (name==version)" in done.stderr
    assert not (tmp_path / "calls").exists()


def test_a_lock_file_without_pins_keeps_its_header(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.runtime.lock"
    lock.write_text("# Runtime dependencies: the standard library only.\n")
    assert hash_lockfile(interpreter(tmp_path, []), lock).returncode == 0
    assert lock.read_text().splitlines()[0] == "# Runtime dependencies: the standard library only."
    assert lock.read_text().splitlines()[1].startswith("# Hashes: for CPython 3.11 linux x86_64")
    assert "pip" not in (tmp_path / "calls").read_text()
