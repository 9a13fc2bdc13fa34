"""Run one check: export exactly the files it reads, run its command, read its reports, judge."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, judge
from shipyard.deps import Prepared
from shipyard.runner import run, shell


def execute(spec: CheckSpec, prepared: Prepared, workspace: Path, sha: str, scratch: Path) -> CheckResult:
    with git.exported(workspace, sha, list(spec.paths), scratch / spec.slug) as folder:
        app_dir = folder / spec.app_path
        if prepared.node_modules is not None:
            (app_dir / "node_modules").symlink_to(prepared.node_modules, target_is_directory=True)
        result = run(shell(spec.command), cwd=app_dir, env=prepared.env(), timeout=spec.timeout)
        coverage = read_coverage(app_dir / spec.coverage_report) if spec.coverage_report else None
        tool_junit = _read_text(app_dir / spec.junit) if spec.junit else None
        return judge(spec, result, coverage, tool_junit)


def read_coverage(report: Path) -> float | None:
    """Line coverage in percent from a Cobertura XML report (pytest-cov, c8, istanbul all write it)."""
    try:
        rate = ET.parse(report).getroot().get("line-rate")
    except (OSError, ET.ParseError):
        return None
    return float(rate) * 100 if rate is not None else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None
