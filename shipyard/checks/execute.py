"""Run one check: export exactly the files it reads, run its command, read its reports, judge."""

from __future__ import annotations

import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard import git
from shipyard.checks.model import CheckResult, CheckSpec, Status, judge, not_run
from shipyard.deps import Prepared
from shipyard.runner import run, shell
from shipyard.sandbox import SandboxUnavailable, sandboxed


def execute(spec: CheckSpec, prepared: Prepared, workspace: Path, sha: str, scratch: Path) -> CheckResult:
    """The check's command runs sandboxed: it sees its exported files (writable), its dependencies and toolchain
    (read-only) and a temporary folder of its own; no network, no secret, nothing of other runs."""
    with git.exported(workspace, sha, list(spec.paths), scratch / spec.slug) as folder, _temporary(folder) as temp:
        app_dir = folder / spec.app_path
        if prepared.node_modules is not None:
            (app_dir / "node_modules").symlink_to(prepared.node_modules, target_is_directory=True)
        try:
            argv = sandboxed(prepared.sandbox((folder,), temp), shell(spec.command), app_dir)
        except SandboxUnavailable as exc:
            return not_run(spec, Status.UNAVAILABLE, str(exc))
        result = run(argv, timeout=spec.timeout)
        coverage = read_coverage(app_dir / spec.coverage_report) if spec.coverage_report else None
        tool_junit = _read_text(app_dir / spec.junit) if spec.junit else None
        return judge(spec, result, coverage, tool_junit)


@contextmanager
def _temporary(export: Path) -> Iterator[Path]:
    """Beside the export, not in it: a linter run on `.` must not see the tools' temporary files."""
    folder = Path(tempfile.mkdtemp(prefix=f"{export.name}-tmp-", dir=export.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
