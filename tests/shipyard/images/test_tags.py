from __future__ import annotations

import pytest

from shipyard.images.tags import image_tags, release_version

SHA = "259bf2234c23aa0011223344556677889900aabb"


@pytest.mark.parametrize(
    ("version", "branch", "expected"),
    [
        ("1.4.2", "main", ["sha-259bf2234c23", "v1.4.2", "1.4", "1", "main"]),
        ("v2.0.10", None, ["sha-259bf2234c23", "v2.0.10", "2.0", "2"]),
        (None, "feature/Login page!", ["sha-259bf2234c23", "feature-Login-page"]),
        ("not-semver", "release/1.x", ["sha-259bf2234c23", "release-1.x"]),
        ("1.4.2", "1.4", ["sha-259bf2234c23", "v1.4.2", "1.4", "1"]),  # a branch named like a tag adds nothing
    ],
)
def test_image_tags(version: str | None, branch: str | None, expected: list[str]) -> None:
    assert image_tags(SHA, version, branch) == expected


@pytest.mark.parametrize(
    ("git_tags", "configured", "expected"),
    [
        (["v1.5.0"], "1.4.2", "v1.5.0"),
        (["nightly", "v1.10.0", "v1.9.9"], None, "v1.10.0"),
        (["nightly"], "1.4.2", "1.4.2"),
        ([], None, None),
    ],
)
def test_a_version_tag_on_the_commit_wins(git_tags: list[str], configured: str | None, expected: str | None) -> None:
    assert release_version(git_tags, configured) == expected
