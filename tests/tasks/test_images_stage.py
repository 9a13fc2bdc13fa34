"""The images stage of a fork's pull request: nothing built or pushed, each check unavailable (never passed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import git
from shipyard.checks.model import Status
from shipyard.config import load_config
from shipyard.home import Home, Zone
from tasks import images_stage as stage

CONFIG = load_config(Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml")


def test_a_fork_run_builds_nothing_and_gets_no_registry_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a fork run reached the registry credentials or the engine")

    monkeypatch.setattr(stage, "registry_auth", refuse)
    monkeypatch.setattr(stage, "docker_api", refuse)
    monkeypatch.setattr(git, "export", refuse)
    home = Home(tmp_path, tmp_path / "tools", tmp_path / "cache", Zone.UNTRUSTED)
    results = stage.images_stage(CONFIG, True, None, str(tmp_path), "9f" * 20, "pr-5", home, credentials=False)
    assert {r.spec.app for r in results} == set(CONFIG.images.apps)
    assert {r.status for r in results} == {Status.UNAVAILABLE}
    assert all("fork's pull request gets no registry credentials" in r.summary for r in results)
