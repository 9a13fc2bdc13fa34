"""Where Shipyard keeps caches, workspaces and reports on this machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get("SHIPYARD_HOME", Path.home() / ".shipyard")).expanduser().resolve())

    @property
    def toolchains(self) -> Path:
        return self.root / "toolchains"

    @property
    def tools(self) -> Path:
        """Pinned scanners; SHIPYARD_TOOLS lets several homes (test runs) share one install."""
        shared = os.environ.get("SHIPYARD_TOOLS")
        return Path(shared).expanduser().resolve() if shared else self.root / "tools"

    @property
    def deps(self) -> Path:
        return self.root / "cache" / "deps"

    def workspace(self, run_id: str) -> Path:
        return self.root / "workspaces" / run_id

    def reports(self, run_id: str) -> Path:
        return self.root / "runs" / run_id / "reports"
