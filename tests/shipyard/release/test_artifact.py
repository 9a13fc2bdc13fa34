"""Release digests: one function, sensitive to everything a release folder holds, and a refusal that says why."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.release.artifact import ArtifactMismatch, digest_of, folder_digest, image_digest, verify_folder


def release(root: Path) -> Path:
    (root / "app" / "pkg").mkdir(parents=True)
    (root / "app" / "pkg" / "main.py").write_text("print('hello')\n")
    (root / "app" / "run.sh").write_text("#!/bin/sh\n")
    (root / "app" / "run.sh").chmod(0o755)
    (root / "app" / "python").symlink_to("/usr/bin/python3")
    return root


def change_content(root: Path) -> None:
    (root / "app" / "pkg" / "main.py").write_text("print('hellO')\n")


def add_file(root: Path) -> None:
    (root / "app" / "pkg" / "evil.pth").write_text("import os\n")


def add_empty_folder(root: Path) -> None:
    (root / "app" / "__pycache__").mkdir()


def drop_exec_bit(root: Path) -> None:
    (root / "app" / "run.sh").chmod(0o644)


def retarget_link(root: Path) -> None:
    (root / "app" / "python").unlink()
    (root / "app" / "python").symlink_to("/tmp/python3")


def rename_file(root: Path) -> None:
    (root / "app" / "pkg" / "main.py").rename(root / "app" / "pkg" / "main2.py")


def link_instead_of_file(root: Path) -> None:
    (root / "app" / "run.sh").unlink()
    (root / "app" / "run.sh").symlink_to("/bin/sh")


@pytest.mark.parametrize(
    "change",
    [change_content, add_file, add_empty_folder, drop_exec_bit, retarget_link, rename_file, link_instead_of_file],
)
def test_every_kind_of_change_to_a_release_folder_changes_its_digest(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    before = folder_digest(release(tmp_path / "r"))
    change(tmp_path / "r")
    assert folder_digest(tmp_path / "r") != before


def test_the_same_tree_has_the_same_digest_wherever_it_is_and_whenever_it_was_written(tmp_path: Path) -> None:
    first, second = release(tmp_path / "a"), release(tmp_path / "b")
    os.utime(second / "app" / "pkg" / "main.py", (0, 0))
    assert folder_digest(first) == folder_digest(second)
    assert folder_digest(first).startswith("sha256:") and len(folder_digest(first)) == len("sha256:") + 64
    assert digest_of(str(first)) == folder_digest(first)


@pytest.mark.parametrize(
    ("artifact", "digest"),
    [
        ("127.0.0.1:5000/platform/api@sha256:" + "a" * 64, "sha256:" + "a" * 64),
        ("127.0.0.1:5000/platform/api:sha-0123456789ab", None),
        ("img:1.0.0", None),
        ("arn:aws:ecs:eu-west-1:123:task-definition/api:7", None),
    ],
)
def test_an_image_is_known_by_the_digest_it_is_pinned_by_and_a_tag_by_none(artifact: str, digest: str | None) -> None:
    assert image_digest(artifact) == digest == digest_of(artifact)


def test_a_changed_folder_is_refused_naming_the_release_both_digests_and_what_to_do(tmp_path: Path) -> None:
    folder = release(tmp_path / "r")
    recorded = folder_digest(folder)
    verify_folder("api 1.4.2", folder, recorded)  # unchanged: no error
    add_file(folder)
    with pytest.raises(ArtifactMismatch) as refused:
        verify_folder("api 1.4.2", folder, recorded)
    message = str(refused.value)
    assert message.startswith(f"api 1.4.2: release folder {folder} does not match its recorded digest")
    assert f"recorded {recorded}, found {folder_digest(folder)}" in message
    with pytest.raises(ArtifactMismatch, match=r"has no digest in the ledger.*deploy it again"):
        verify_folder("api 1.4.2", folder, None)
