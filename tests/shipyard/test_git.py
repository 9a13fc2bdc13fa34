from pathlib import Path

import pytest

from shipyard import git
from shipyard.errors import InputError
from shipyard.sample import commit_all, create_sample_repo


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("repo")
    return repo, create_sample_repo(repo)


def test_checkout_at_sha(sample: tuple[Path, str], tmp_path: Path) -> None:
    repo, sha = sample
    full = git.checkout(str(repo), sha[:10], tmp_path / "ws")
    assert full == sha
    assert (tmp_path / "ws" / "apps" / "api" / "api" / "main.py").is_file()


def test_unknown_sha_is_bad_input(sample: tuple[Path, str], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="commit 'deadbeef' not found"):
        git.checkout(str(sample[0]), "deadbeef", tmp_path / "ws")


def test_missing_repository_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot clone"):
        git.checkout(str(tmp_path / "nope"), "HEAD", tmp_path / "ws")


def test_export_writes_only_the_given_paths(sample: tuple[Path, str], tmp_path: Path) -> None:
    repo, sha = sample
    git.export(repo, sha, ["apps/ml"], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["apps"]
    assert sorted(p.name for p in (tmp_path / "out" / "apps").iterdir()) == ["ml"]


def test_object_id_follows_content(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    first = create_sample_repo(repo)
    (repo / "apps" / "ml" / "ml" / "extra.py").write_text("X = 1\n")
    second = commit_all(repo, "change ml")
    assert git.object_id(repo, first, "apps/ml") != git.object_id(repo, second, "apps/ml")
    assert git.object_id(repo, first, "apps/api") == git.object_id(repo, second, "apps/api")
    assert git.object_id(repo, first, "apps/nothing") == "missing"


def test_unknown_variant_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown sample variant 'nope'; variants are: broken"):
        create_sample_repo(tmp_path / "r", "nope")


def test_author_and_change_summary_since_the_serving_release(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    base = create_sample_repo(repo)
    (repo / "NOTES.md").write_text("one\ntwo\n")
    head = commit_all(repo, "Add release notes", author="Carol <carol@example.com>")
    assert git.author(repo, head) == ("Carol", "carol@example.com")
    summary = git.change_summary(repo, base, head)
    assert summary.startswith(f"1 commit(s), 1 file changed, 2 insertions(+) since {base[:12]}")
    assert summary.endswith("head commit: Add release notes")
    assert git.change_summary(repo, None, head) == "first release here; head commit: Add release notes"
    assert git.change_summary(repo, "0" * 40, head).startswith("first release here")
