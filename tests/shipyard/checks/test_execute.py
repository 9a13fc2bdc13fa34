"""A pull request's check, written by an attacker, run the way pr-checks runs it (shipyard.checks.execute)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.checks.execute import execute
from shipyard.checks.model import Status
from shipyard.checks.schedule import DurationHistory, LongestFirst
from shipyard.deps import Prepared
from shipyard.toolchains import resolve
from tests.capabilities import require
from tests.shipyard.checks.factories import spec
from tests.support.probes import processes_named

SECRETS = {
    "GITHUB_TOKEN": "ghp_execute_secret_0123456789",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-execute-0123456789",
    "PIP_INDEX_URL": "https://ci:pip-password-0123@pkgs.example/simple",
    "PREFECT_API_AUTH_STRING": "admin:prefect-auth-0123456789",
}
HUNT = """\
set +e
{{ env; for f in /proc/*/environ; do echo "== $f"; tr '\\0' ' ' < "$f"; done 2>/dev/null; ls /proc; }} |
  tr '\\n' ' '; echo
cat {home}/ledger.db {home}/.prefect/profiles.toml
(exec 3<>/dev/tcp/127.0.0.1/{port}) && echo "CONNECTED {port}" || echo "REFUSED {port}"
ls -la /var/run/docker.sock /run/docker.sock
echo poisoned > {deps}/venv/poison.pth && echo "WROTE DEPS"
"""


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def repository(tmp_path: Path, script: str) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    (repo / "apps" / "api").mkdir(parents=True)
    (repo / "apps" / "api" / "check.sh").write_text(script)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True).stdout
    return repo, sha.strip()


def prepared(tmp_path: Path) -> Prepared:
    root = tmp_path / "home" / "cache" / "deps" / "python" / "api-key"
    (root / "venv" / "bin").mkdir(parents=True)
    return Prepared("api", resolve("python", "3.11", tmp_path / "toolchains"), "key", str(root))


@pytest.mark.usefixtures("secrets")
def test_a_check_hunting_for_the_pipelines_secrets_finds_none_and_reaches_nothing(
    tmp_path: Path, listener: int
) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    home = tmp_path / "home"
    (home / ".prefect").mkdir(parents=True)
    (home / "ledger.db").write_text(SECRETS["GITHUB_TOKEN"])
    (home / ".prefect" / "profiles.toml").write_text(SECRETS["PREFECT_API_AUTH_STRING"])
    deps = prepared(tmp_path)
    repo, sha = repository(tmp_path, HUNT.format(home=home, port=listener, deps=deps.root))
    check = replace(spec("hunt"), command="bash check.sh", timeout=60)
    result = execute(check, deps, repo, sha, tmp_path / "scratch")
    seen = result.tail or ""
    assert "== /proc/1/environ" in seen  # the hunt did run
    for value in SECRETS.values():
        assert value not in seen and value.split(":")[-1] not in seen
    assert f"REFUSED {listener}" in seen and "CONNECTED" not in seen
    assert "WROTE DEPS" not in seen and not (Path(deps.root) / "venv" / "poison.pth").exists()
    assert f"/proc/{os.getpid()}/" not in seen  # the pipeline's own process is not in its /proc


def test_a_check_that_escapes_into_a_new_session_does_not_outlive_its_timeout(tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    tag = f"check-escape-{uuid.uuid4().hex[:8]}"
    repo, sha = repository(tmp_path, f"setsid bash -c 'exec -a {tag} sleep 300' &\nsleep 300\n")
    check = replace(spec("escape"), command="bash check.sh", timeout=2)
    result = execute(check, prepared(tmp_path), repo, sha, tmp_path / "scratch")
    assert result.status is Status.FAILED and "timed out" in result.summary
    deadline = time.monotonic() + 5  # the namespace's processes are being killed as the sandbox ends
    while (left := processes_named(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_a_checks_tool_cache_outlives_its_run_for_the_same_install_and_is_seen_by_no_other(tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    script = (
        'echo "mypy cache: $(cat "$MYPY_CACHE_DIR/state" 2>/dev/null || echo cold)"\n'
        'mkdir -p "$MYPY_CACHE_DIR" && echo warm > "$MYPY_CACHE_DIR/state"\n'
        'touch "$SHIPYARD_TOOL_CACHE/eslintcache" && exit 1\n'  # failing keeps the output in the result
    )
    repo, sha = repository(tmp_path, script)
    check = replace(spec("typecheck"), command="bash check.sh", timeout=60)
    same = prepared(tmp_path)
    first = execute(check, same, repo, sha, tmp_path / "scratch")
    again = execute(check, same, repo, sha, tmp_path / "scratch")
    assert "mypy cache: cold" in (first.tail or ""), first.tail
    assert "mypy cache: warm" in (again.tail or ""), again.tail
    other_root = tmp_path / "home" / "cache" / "deps" / "protected" / "python" / "api-key"
    (other_root / "venv" / "bin").mkdir(parents=True)
    other = replace(same, root=str(other_root))  # another zone's (or another lock file's) install
    assert "mypy cache: cold" in (execute(check, other, repo, sha, tmp_path / "scratch").tail or "")
    assert (Path(same.root) / "tool-caches" / "typecheck" / "eslintcache").exists()


def test_the_longest_first_scheduler_learns_how_long_a_sandboxed_check_ran(tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    repo, sha = repository(tmp_path, 'sleep "$1"\n')
    slow, quick = (replace(spec(name), command=f"bash check.sh {pause}", timeout=60)
                   for name, pause in (("slow", 1.0), ("quick", 0)))  # fmt: skip
    deps, history = prepared(tmp_path), DurationHistory(tmp_path / "check-durations.json")
    history.record([execute(check, deps, repo, sha, tmp_path / "scratch") for check in (quick, slow)])
    assert history.expected(slow) >= 1.0  # what it ran for, not bwrap's own few milliseconds
    queue: LongestFirst[str] = LongestFirst(history)
    queue.push(quick, "quick")
    queue.push(slow, "slow")
    assert queue.pop() == "slow"
