"""Results cached while checking untrusted code never satisfy a protected run: a forged "passed" planted where a
pull request's run keeps its results does not let a staging deploy of a failing commit through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipyard import git
from shipyard.checks.plan import check_cache_key, matrix, plan_checks
from shipyard.config import load_config
from shipyard.deps import cache_key
from shipyard.files import free_port
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.sample import commit_all, create_sample_repo
from shipyard.toolchains import resolve
from tests.capabilities import require_tools
from tests.e2e.test_pr_checks import shipyard
from tests.support.approvers import policy_for, set_policy
from tests.support.configs import API_APP

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
CONFIG = (
    API_APP
    + """\
    serve:
      command: uvicorn api.main:create_app --factory --host 127.0.0.1 --port {{port}}
      smoke:
        - {{path: /health, json_field: status, equals: ok}}
environments:
  staging:
    target:
      backend: local
      ports: {{api: {{router: {router}, blue: {blue}, green: {green}}}}}
    rollout: {{max_p95_ms: 10000, steps: [100], pause_seconds: 0, min_samples: 1, scale_down_delay_seconds: 1}}
branches:
  - {{branch: staging, environment: staging, required: [quality]}}
"""
)


def lint_key(repo: Path, sha: str) -> str:
    """The cache key of api's lint at a commit, computed the way the pipeline computes it (an attacker can too)."""
    config = load_config(repo / "shipyard.yaml")
    specs = plan_checks(config, matrix(config), lambda path: git.object_id(repo, sha, path))
    spec = next(s for s in specs if s.app == "api" and s.check == "lint")
    toolchain = resolve("python", "3.11", Home.from_env().toolchains)
    lockfile = git.read_file(repo, sha, "apps/api/requirements.lock")
    assert lockfile is not None
    return check_cache_key(spec, toolchain.full_version, cache_key(config.apps["api"], lockfile, toolchain))


def test_a_forged_passed_result_in_the_untrusted_storage_does_not_let_a_failing_commit_deploy(
    shipyard_env: dict[str, str], tmp_path: Path
) -> None:
    require_tools("git", "python3.11")
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    config = CONFIG.format(router=free_port(), blue=free_port(), green=free_port())
    (repo / "shipyard.yaml").write_text(config)
    clean = commit_all(repo, "lint passes")
    (repo / "apps" / "api" / "api" / "unused.py").write_text("import os\n")  # an unused import: lint fails
    failing = commit_all(repo, "lint fails")
    home, prefect_home = tmp_path / "home", tmp_path / "prefect"
    env = dict(shipyard_env, SHIPYARD_HOME=str(home), PREFECT_HOME=str(prefect_home), PYTHONPATH=str(ROOT))
    env.pop("SHIPYARD_LEDGER_URL", None)

    checked = shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", clean, "--stage", "quality")
    assert checked.code == 0, checked.output
    honest, wanted = lint_key(repo, clean), lint_key(repo, failing)
    stored = [p for root in (home, prefect_home) for p in root.rglob(f"*{honest}") if p.is_file()]
    assert stored, "the pull request's run stored no lint result"
    for record in stored:  # the attacker's copy: a real "passed" record under the failing commit's key
        record.with_name(record.name.replace(honest, wanted)).write_bytes(record.read_bytes())
    forged = shipyard(env, "run", "pr-checks", "--repo", str(repo), "--sha", failing, "--stage", "quality")
    assert forged.code == 0, "the forgery must work where it was planted, or this test shows nothing"

    set_policy(home, policy_for(config, str(repo)))  # staging as the repository's file defines it
    subprocess.run(["git", "-C", str(repo), "branch", "staging", failing], check=True, capture_output=True)
    code = (
        "from flows.deploy import staging_deploy\n"
        f"state = staging_deploy(repo={str(repo)!r}, sha={failing!r}, branch='staging', return_state=True)\n"
        "print('STATE', state.type.value, state.message)\n"
    )
    deploy = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    state = next((line for line in deploy.stdout.splitlines() if line.startswith("STATE ")), deploy.stderr[-3000:])
    assert state.startswith("STATE FAILED") and "api/lint" in state, state
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}")
    try:
        assert ledger.current("staging", "api") is None  # nothing was released
    finally:
        ledger.close()
