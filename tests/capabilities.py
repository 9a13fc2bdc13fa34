"""A test that needs something this machine may lack: skip locally, fail under CI=true (CI must have it)."""

from __future__ import annotations

import os
import shutil

import pytest


def require(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"capability missing under CI: {what}")
    pytest.skip(f"capability missing: {what}")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    require(not missing, f"tools not on PATH: {', '.join(missing)}")
