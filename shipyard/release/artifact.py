"""What a release ships and its digest: recorded in the ledger when the release is prepared, checked again before
every start of a colour, so a release folder changed after it was recorded never serves.

A folder's digest covers every entry under it (path, type, executable bit, content or link target); an image's is
the registry digest it is pinned by (`repository@sha256:...`), which the container runtime checks itself.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from shipyard.errors import ShipyardError


class ArtifactMismatch(ShipyardError):
    """A release's artifact is not what the ledger recorded for it: it must not start."""


def folder_digest(folder: Path) -> str:
    """sha256 over the folder's tree, in a fixed order, following no link."""
    total = hashlib.sha256()
    for path in sorted(_entries(folder)):
        relative = path.relative_to(folder).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            total.update(f"l {relative}\0{os.readlink(path)}\0".encode())
        elif stat.S_ISDIR(info.st_mode):
            total.update(f"d {relative}\0".encode())
        elif stat.S_ISREG(info.st_mode):
            executable = "x" if info.st_mode & 0o111 else "-"
            total.update(f"f {relative} {executable}\0{_file_digest(path)}\0".encode())
        else:  # a fifo or a device in a release folder is not something an app ships
            total.update(f"? {relative} {stat.S_IFMT(info.st_mode)}\0".encode())
    return f"sha256:{total.hexdigest()}"


def image_digest(artifact: str) -> str | None:
    """The digest an image reference is pinned by, or None for a tag or a label."""
    _, at, digest = artifact.rpartition("@")
    return digest if at and digest.startswith("sha256:") else None


def digest_of(artifact: str) -> str | None:
    """What the ledger records for an artifact: a folder's content digest, a pinned image's digest, else None (a
    label for a command the backend runs as configured, or a cloud backend's own reference)."""
    if Path(artifact).is_dir():
        return folder_digest(Path(artifact))
    return image_digest(artifact)


def verify_folder(release: str, folder: Path, recorded: str | None) -> None:
    """Raise unless the folder is, byte for byte, what was recorded for this release ("api 1.4.2")."""
    if recorded is None:
        raise ArtifactMismatch(
            f"{release}: release folder {folder} has no digest in the ledger, so what would start cannot be "
            "checked; deploy it again to record one"
        )
    found = folder_digest(folder)
    if found != recorded:
        raise ArtifactMismatch(
            f"{release}: release folder {folder} does not match its recorded digest "
            f"(recorded {recorded}, found {found}): it was changed after the release was prepared; not starting it"
        )


def _entries(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):  # does not descend into linked folders
        found += [Path(root, name) for name in (*dirs, *files)]
    return found


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
