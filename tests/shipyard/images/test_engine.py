"""The engine helpers on a real Docker engine, with images of one file (FROM scratch: no base image, no network)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from shipyard.images import engine


def _context(folder: Path, content: str) -> Path:
    folder.mkdir()
    (folder / "content").write_text(content)
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY content /content\n")
    return folder


def test_a_rebuilt_tag_leaves_no_image_behind(docker_engine: Any, tmp_path: Path) -> None:
    tag = f"shipyard-test/rebuilt-{uuid.uuid4().hex[:8]}:1"
    first = engine.rebuild(docker_engine, _context(tmp_path / "one", "one"), "Dockerfile", tag, timeout=60)
    kept = engine.build(docker_engine, _context(tmp_path / "two", "two"), "Dockerfile", f"{tag}-kept", {}, 60)
    try:
        second = engine.rebuild(docker_engine, _context(tmp_path / "three", "three"), "Dockerfile", tag, timeout=60)
        assert second.image_id != first.image_id
        assert docker_engine.images(name=tag, quiet=True) == [second.image_id]
        assert first.image_id not in docker_engine.images(all=True, quiet=True)  # the build before: gone

        docker_engine.tag(kept.image_id, tag.split(":")[0], "1")  # the tag now names an image also tagged -kept
        engine.rebuild(docker_engine, _context(tmp_path / "four", "four"), "Dockerfile", tag, timeout=60)
        assert docker_engine.images(name=f"{tag}-kept", quiet=True) == [kept.image_id]  # still tagged: kept
    finally:
        for image in docker_engine.images(name=tag.split(":")[0], quiet=True):
            docker_engine.remove_image(image, force=True)
