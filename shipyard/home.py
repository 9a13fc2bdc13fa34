"""Where Shipyard keeps caches, workspaces and reports on this machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Zone(StrEnum):
    """Who wrote what a dependency cache or a result store holds (DESIGN.md's trust model): runs that check
    untrusted code (pull requests, feature branches), or the protected runs (deploy flows, the nightly suite) whose
    installs and results a release may use. Nothing written in one zone is read in the other."""

    UNTRUSTED = "untrusted"
    PROTECTED = "protected"


@dataclass(frozen=True)
class Home:
    """SHIPYARD_HOME (default ~/.shipyard). Installs that depend only on what they install may live elsewhere, so
    several homes (CI workers, test runs) share them: SHIPYARD_TOOLS holds the pinned scanners, SHIPYARD_CACHE the
    toolchains and dependency installs (each keyed by its lock file, toolchain and command).

    `zone` picks the dependency installs and cached check results a run may read and write: its zone's own."""

    root: Path
    shared_tools: Path | None = None
    shared_cache: Path | None = None
    zone: Zone = Zone.UNTRUSTED

    @classmethod
    def from_env(cls, zone: Zone = Zone.UNTRUSTED) -> Home:
        root = _path("SHIPYARD_HOME") or (Path.home() / ".shipyard").resolve()
        return cls(root, _path("SHIPYARD_TOOLS"), _path("SHIPYARD_CACHE"), zone)

    @property
    def tools(self) -> Path:
        return self.shared_tools or self.root / "tools"

    @property
    def cache(self) -> Path:
        return self.shared_cache or self.root / "cache"

    @property
    def toolchains(self) -> Path:
        return self.cache / "toolchains"

    @property
    def deps(self) -> Path:
        return self.cache / "deps" / self.zone

    @property
    def prefetched(self) -> Path:
        """Packages fetched for image builds (which run with no network), by lock file, in this zone."""
        return self.cache / "prefetch" / self.zone

    @property
    def results(self) -> Path:
        """Where cached check results of this zone are stored (Prefect result storage)."""
        return self.root / "results" / self.zone

    def workspace(self, run_id: str) -> Path:
        return self.root / "workspaces" / run_id

    def reports(self, run_id: str) -> Path:
        return self.root / "runs" / run_id / "reports"


def _path(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else None
