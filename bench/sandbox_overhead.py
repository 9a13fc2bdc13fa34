"""What the sandbox costs: the sample platform's quality checks sandboxed vs the same commands unsandboxed
(target: sandboxed/unsandboxed <= 1.15).

Same commit, same installs (made once first, outside the timing), same exports; one check at a time so the two
figures compare the command and not the scheduling. Three rounds, each running every check unsandboxed (the
baseline) then sandboxed (shipyard.checks.execute, as pr-checks runs it). Exits non-zero when a check does not pass
either way (what was timed would not be the real pipeline), never on a time.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path

from _harness import RUNS, finish, median, ratio, timed

from shipyard import git
from shipyard.checks.execute import execute, read_coverage, tool_cache, tool_cache_env
from shipyard.checks.model import CheckResult, CheckSpec, Status, judge
from shipyard.checks.plan import matrix, plan_checks
from shipyard.config import load_config
from shipyard.deps import Prepared, prepare
from shipyard.home import Home
from shipyard.runner import run, shell
from shipyard.sample import create_sample_repo


def unsandboxed(spec: CheckSpec, prepared: Prepared, workspace: Path, sha: str, scratch: Path) -> CheckResult:
    """The baseline: what execute() does, with the command run directly (the pipeline never does this)."""
    with git.exported(workspace, sha, list(spec.paths), scratch / spec.slug) as folder:
        app_dir = folder / spec.app_path
        if prepared.node_modules is not None:
            (app_dir / "node_modules").symlink_to(prepared.node_modules, target_is_directory=True)
        env = prepared.env() | tool_cache_env(tool_cache(spec, prepared))  # the same warm tool caches
        result = run(shell(spec.command), cwd=app_dir, env=env, timeout=spec.timeout)
        coverage_file = app_dir / spec.coverage_report if spec.coverage_report else None
        coverage = read_coverage(coverage_file.read_bytes()) if coverage_file and coverage_file.exists() else None
        junit = (app_dir / spec.junit).read_text() if spec.junit and (app_dir / spec.junit).exists() else None
        return judge(spec, result, coverage, junit)


work = Path(tempfile.mkdtemp(prefix="shipyard-bench-sandbox-"))
problems: list[str] = []
times: dict[str, list[float]] = {"unsandboxed": [], "sandboxed": []}
try:
    repo = work / "sample"
    sha = create_sample_repo(repo)
    config = load_config(repo / "shipyard.yaml")
    specs = plan_checks(config, matrix(config), lambda path: git.object_id(repo, sha, path))
    home = Home.from_env()
    installs, prepared = timed(
        lambda: {(s.app, s.version): prepare(s.app, config.apps[s.app], s.version, repo, sha, home) for s in specs}
    )
    print(f"installs (once, not timed below): {installs:.1f} s; checks: {len(specs)}")
    for number in range(1, RUNS + 1):
        for way, runner in (("unsandboxed", unsandboxed), ("sandboxed", execute)):
            scratch = work / f"{way}-{number}"
            seconds = 0.0
            for spec in specs:
                took, result = timed(partial(runner, spec, prepared[(spec.app, spec.version)], repo, sha, scratch))
                seconds += took
                if result.status is not Status.PASSED:
                    problems.append(f"round {number}, {way}: {spec.name}: {result.status.value}: {result.summary}")
            times[way].append(seconds)
            print(f"  round {number}, {way}: {seconds:.2f} s")
finally:
    shutil.rmtree(work, ignore_errors=True)

baseline = median("unsandboxed, all checks one at a time", times["unsandboxed"])
sandboxed = median("sandboxed, all checks one at a time", times["sandboxed"])
ratio("sandboxed/unsandboxed", sandboxed, baseline, "target <= 1.15")
finish(problems)
