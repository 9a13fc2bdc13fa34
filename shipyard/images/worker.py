"""The image Docker work-pool flow runs execute in: Shipyard's own source installed on the local Python builder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from shipyard import __version__
from shipyard.images import engine
from shipyard.sample import ROOT

WORKER_IMAGE = f"shipyard/worker:{__version__}"
SOURCES = (
    "pyproject.toml",
    "README.md",
    "prefect.yaml",
    "requirements",
    "shipyard",
    "cli",
    "flows",
    "tasks",
    "deployments",
)


def build_worker_image(api: Any, tag: str = WORKER_IMAGE) -> str:
    """Build from a context of Shipyard's sources only (never the checkout's virtualenv or caches); the image it
    replaces (about 870 MB each time Shipyard's sources change) is removed."""
    with tempfile.TemporaryDirectory(prefix="shipyard-worker-") as folder:
        context = Path(folder)
        for name in SOURCES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy(source, context / name)
        shutil.copy(ROOT / "infra" / "docker" / "shipyard" / "worker.Dockerfile", context / "Dockerfile")
        engine.rebuild(api, context, "Dockerfile", tag, timeout=1200, network="host")  # our own recipe
    return tag
