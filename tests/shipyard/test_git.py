import os
import pwd
import subprocess
from pathlib import Path

import pytest

from shipyard import git
from shipyard.errors import InputError
from shipyard.sample import commit_all, create_sample_repo
from tests.capabilities import require


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


def test_a_fork_pull_requests_head_is_fetched_from_its_pull_ref(tmp_path: Path) -> None:
    """GitHub keeps a fork's commits only under refs/pull/N/head of the base repository: no branch has them."""
    base = tmp_path / "base"
    create_sample_repo(base)
    fork = tmp_path / "fork"
    git.git("clone", "--quiet", str(base), str(fork))
    (fork / "FORK.md").write_text("from a fork\n")
    head = commit_all(fork, "a fork's change")
    git.git("push", "--quiet", str(base), f"{head}:refs/pull/7/head", cwd=fork)
    url = f"file://{base}"  # the transport a remote clone uses: only objects a fetched ref reaches arrive
    with pytest.raises(InputError, match=f"commit '{head}' not found"):
        git.checkout(url, head, tmp_path / "ws")
    assert git.checkout(url, head, tmp_path / "ws", pull_request=7) == head
    assert (tmp_path / "ws" / "FORK.md").read_text() == "from a fork\n"
    with pytest.raises(InputError, match=r"cannot fetch refs/pull/8/head from"):
        git.checkout(url, head, tmp_path / "ws", pull_request=8)


def test_a_pull_request_head_replaced_by_a_newer_push_is_reported_as_such(tmp_path: Path) -> None:
    base = tmp_path / "base"
    old = create_sample_repo(base)
    git.git("update-ref", "refs/pull/3/head", old, cwd=base)
    (base / "NEW.md").write_text("newer\n")
    newer = commit_all(base, "newer")
    git.git("update-ref", "refs/pull/3/head", newer, cwd=base)
    git.git("reset", "--quiet", "--hard", old, cwd=base)
    commit_all(base, "main moved on")
    gone = "0123456789" * 4
    with pytest.raises(InputError, match=r"not found at refs/pull/3/head of .*: a newer push replaced it"):
        git.checkout(f"file://{base}", gone, tmp_path / "ws", pull_request=3)
    assert git.checkout(f"file://{base}", newer, tmp_path / "ws", pull_request=3) == newer


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
    assert git.people(repo, head) == ("Carol", "carol@example.com")  # author and committer, once each
    summary = git.change_summary(repo, base, head)
    assert summary.startswith(f"1 commit(s), 1 file changed, 2 insertions(+) since {base[:12]}")
    assert summary.endswith("head commit: Add release notes")
    assert git.change_summary(repo, None, head) == "first release here; head commit: Add release notes"
    assert git.change_summary(repo, "0" * 40, head).startswith("first release here")


def test_a_local_repository_of_another_user_is_trusted_for_its_clone_alone(tmp_path: Path) -> None:
    """As in a flow-run container, where the repository is mounted from the host: git refuses another user's
    repository; the checkout names it in safe.directory for that one command, not '*' for the whole image."""
    require(os.geteuid() == 0, "changing a repository's owner needs root")
    repo = tmp_path / "repo"
    sha = create_sample_repo(repo)
    nobody = pwd.getpwnam("nobody")
    for path in [repo, *repo.rglob("*")]:
        os.lchown(path, nobody.pw_uid, nobody.pw_gid)
    plain = subprocess.run(
        ["git", "clone", "--quiet", str(repo), str(tmp_path / "plain")], capture_output=True, text=True
    )
    assert plain.returncode != 0 and "dubious ownership" in plain.stderr
    assert git.checkout(str(repo), sha, tmp_path / "ws") == sha
    listed = subprocess.run(
        ["git", "config", "--show-origin", "--get-all", "safe.directory"], capture_output=True, text=True
    )
    assert str(repo) not in listed.stdout  # nothing was written to any config file


def test_a_pushed_branchs_checkout_still_reads_the_config_of_the_default_branch(tmp_path: Path) -> None:
    """What the relay's config_ref `origin/<default branch>` names for a push to a feature branch."""
    repo = tmp_path / "repo"
    create_sample_repo(repo)
    git.git("checkout", "--quiet", "-b", "feature/x", cwd=repo)
    (repo / "shipyard.yaml").write_text("github: {api_url: 'https://attacker.invalid'}\n")
    head = commit_all(repo, "a push that rewrites the pipeline config")
    assert git.checkout(str(repo), head, tmp_path / "ws") == head
    config = git.read_file(tmp_path / "ws", "origin/main", "shipyard.yaml")
    assert config is not None and "attacker" not in config and config.startswith("# Shipyard pipeline")
