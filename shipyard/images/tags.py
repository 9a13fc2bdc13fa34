"""Which tags an image gets: the commit, the release version (v1.4.2, 1.4, 1) and the branch."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)$")
_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9_.-]+")
SHORT_SHA = 12


def image_tags(sha: str, version: str | None, branch: str | None) -> list[str]:
    tags = [f"sha-{sha[:SHORT_SHA]}"]
    match = _SEMVER.match(version or "")
    if match:
        major, minor, patch = match["major"], match["minor"], match["patch"]
        tags += [f"v{major}.{minor}.{patch}", f"{major}.{minor}", major]
    if branch:
        tag = _NOT_IN_TAG.sub("-", branch).strip(".-")[:128]
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def release_version(git_tags: list[str], configured: str | None) -> str | None:
    """A vX.Y.Z tag on the commit wins over the configured version (the highest, if several)."""
    versions = [t for t in git_tags if _SEMVER.match(t)]
    if versions:
        return max(versions, key=lambda t: tuple(int(p) for p in _SEMVER.match(t).groups()))  # type: ignore[union-attr]
    return configured
