"""Run one check: export exactly the files it reads, run its command, read its reports, judge."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, judge, not_run
from shipyard.deps import Prepared
from shipyard.runner import run, shell
from shipyard.sandbox import SandboxUnavailable, read_back, sandboxed, temporary_beside


def execute(spec: CheckSpec, prepared: Prepared, workspace: Path, sha: str, scratch: Path) -> CheckResult:
    """The check's command runs sandboxed: it sees its exported files (writable), its dependencies and toolchain
    (read-only) and a temporary folder of its own; no network, no secret, nothing of other runs."""
    exported = git.exported(workspace, sha, list(spec.paths), scratch / spec.slug)
    cache = tool_cache(spec, prepared)
    with exported as folder, temporary_beside(folder) as temp:
        app_dir = folder / spec.app_path
        if prepared.node_modules is not None:
            (app_dir / "node_modules").symlink_to(prepared.node_modules, target_is_directory=True)
        try:
            sandbox = prepared.sandbox((folder, cache), temp, env=tool_cache_env(cache))
            argv = sandboxed(sandbox, shell(spec.command), app_dir)
        except SandboxUnavailable as exc:
            return not_run(spec, Status.UNAVAILABLE, str(exc))
        result = run(argv, timeout=spec.timeout)
        coverage = read_coverage(read_back(app_dir / spec.coverage_report, folder)) if spec.coverage_report else None
        junit = read_back(app_dir / spec.junit, folder) if spec.junit else None
        return judge(spec, result, coverage, junit.decode(errors="replace") if junit is not None else None)


def tool_cache(spec: CheckSpec, prepared: Prepared) -> Path:
    """The check's own cache folder (mypy's, ruff's, ESLint's, tsc's build info), kept with the install its tool
    runs from: keyed like it (lock file, toolchain, install command) and in the same zone, so a cache written while
    checking untrusted code is never read by a protected run. Checks of one key share it from run to run."""
    cache = Path(prepared.root) / "tool-caches" / spec.check
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def tool_cache_env(cache: Path) -> dict[str, str]:
    """Where the tools find it: mypy and ruff by their own variables, any other tool through the check's command
    (`eslint --cache --cache-location "$SHIPYARD_TOOL_CACHE/eslint"`)."""
    return {
        "SHIPYARD_TOOL_CACHE": str(cache),
        "MYPY_CACHE_DIR": str(cache / "mypy"),
        "RUFF_CACHE_DIR": str(cache / "ruff"),
    }


def read_coverage(report: bytes | None) -> float | None:
    """Line coverage in percent from a Cobertura XML report (pytest-cov, c8, istanbul all write it)."""
    if report is None:
        return None
    try:
        rate = ET.fromstring(report).get("line-rate")
    except ET.ParseError:
        return None
    return float(rate) * 100 if rate is not None else None
