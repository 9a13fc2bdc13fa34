from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.images.bootstrap import BootstrapFailed, debian_mirror


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_mirror_from_a_legacy_sources_list(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64] http://mirror.invalid/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BootstrapFailed, match="no Debian bookworm mirror"):
        debian_mirror(tmp_path)
