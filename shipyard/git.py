"""The few git operations the pipelines need, all through the one command runner."""

from __future__ import annotations

import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.errors import InputError
from shipyard.runner import CommandError, run

GIT_TIMEOUT = 300


def git(*args: str, cwd: Path | None = None, what: str = "") -> str:
    return run(["git", *args], cwd=cwd, timeout=GIT_TIMEOUT, check=True, what=what).stdout


def checkout(repo: str, sha: str, dest: Path, pull_request: int | None = None) -> str:
    """Clone repo into dest and check out sha; returns the full commit id.

    pull_request: also fetch refs/pull/N/head, where GitHub keeps a pull request's head: a fork's commits are on
    no branch of the base repository, so a clone alone does not have them."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        git("clone", "--quiet", "--no-checkout", *_trusting(repo), repo, str(dest), what=f"cloning {repo}")
    except CommandError as exc:
        raise InputError(f"cannot clone repository {repo!r}: {exc.result.stderr.strip()}") from None
    if pull_request is not None:
        ref = f"refs/pull/{pull_request}/head"
        try:
            git("fetch", "--quiet", "origin", f"+{ref}:refs/remotes/origin/pull/{pull_request}", cwd=dest, what=ref)
        except CommandError as exc:
            raise InputError(f"cannot fetch {ref} from {repo!r}: {exc.result.stderr.strip()}") from None
    try:
        full = git("rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", cwd=dest).strip()
    except CommandError:
        if pull_request is not None:
            where = f"at refs/pull/{pull_request}/head of {repo}: a newer push replaced it"
            raise InputError(f"commit {sha!r} not found {where}") from None
        raise InputError(f"commit {sha!r} not found in {repo}") from None
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", full, cwd=dest, what="checkout")
    return full


def _trusting(repo: str) -> list[str]:
    """A repository on a local path owned by another user (mounted into a flow-run container, say) is trusted for
    this clone alone, by name: git refuses it otherwise ("dubious ownership"), and safe.directory=* in the image
    would trust every repository on the machine for every command. The setting must reach the upload-pack that
    reads it, which git starts with a clean configuration: only through the command that starts it, and only
    outside the local (hardlinking) clone."""
    path = repo.removeprefix("file://")
    if "://" in path or not Path(path).is_absolute():
        return []
    names = [f"safe.directory={shlex.quote(str(p))}" for p in (Path(path), Path(path) / ".git")]
    return ["--no-local", "--upload-pack", " ".join(["git", *(f"-c {n}" for n in names), "upload-pack"])]


def object_id(workspace: Path, sha: str, path: str) -> str:
    """Content hash of a file or folder at a commit (git's tree/blob id); 'missing' when absent."""
    result = run(["git", "rev-parse", "--verify", "--quiet", f"{sha}:{path}"], cwd=workspace, timeout=GIT_TIMEOUT)
    return result.stdout.strip() if result.ok else "missing"


def read_file(workspace: Path, ref: str, path: str) -> str | None:
    result = run(["git", "show", f"{ref}:{path}"], cwd=workspace, timeout=GIT_TIMEOUT)
    return result.stdout if result.ok else None


def export(workspace: Path, sha: str, paths: list[str], dest: Path) -> None:
    """Write exactly these paths of the commit into dest: a check sees only what its cache key covers."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "export.tar"
        git("archive", "--format=tar", "-o", str(archive), sha, "--", *paths, cwd=workspace, what="export")
        with tarfile.open(archive) as tar:
            # Python before 3.11.4 (Debian 12's 3.11.2 in the worker image) has no extraction filters; git archive
            # writes no absolute paths or '..' members, so only the filter's extra checks are lost there.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:
                tar.extractall(dest)


@contextmanager
def exported(workspace: Path, sha: str, paths: list[str], dest: Path) -> Iterator[Path]:
    """A fresh export of these paths in dest (whatever a crashed run left there is replaced), removed afterwards."""
    shutil.rmtree(dest, ignore_errors=True)
    export(workspace, sha, paths, dest)
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def tags_at(workspace: Path, sha: str) -> list[str]:
    return git("tag", "--points-at", sha, cwd=workspace).split()


def author(workspace: Path, sha: str) -> tuple[str, str]:
    """(name, email) of the commit's author."""
    name, _, email = git("show", "-s", "--format=%an%x00%ae", sha, cwd=workspace).strip().partition("\0")
    return name, email


def people(workspace: Path, sha: str) -> tuple[str, ...]:
    """The commit's author and committer, names and emails: who made the change."""
    fields = git("show", "-s", "--format=%an%x00%ae%x00%cn%x00%ce", sha, cwd=workspace).strip().split("\0")
    return tuple(dict.fromkeys(f for f in fields if f))


def on_branch(workspace: Path, sha: str, branch: str) -> bool:
    """Is the commit on the clone's origin branch (its tip or an ancestor of it)?"""
    ref = f"refs/remotes/origin/{branch}"
    if not run(["git", "check-ref-format", ref], timeout=60).ok:
        return False
    if not run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=workspace, timeout=60).ok:
        return False
    return run(["git", "merge-base", "--is-ancestor", sha, ref], cwd=workspace, timeout=60).ok


def change_summary(workspace: Path, base: str | None, head: str) -> str:
    """'N commits, M files changed, +A -D since BASE' (or the head commit's subject when there is no base)."""
    subject = git("show", "-s", "--format=%s", head, cwd=workspace).strip()
    if base is None or not run(["git", "cat-file", "-e", f"{base}^{{commit}}"], cwd=workspace, timeout=60).ok:
        return f"first release here; head commit: {subject}"
    commits = git("rev-list", "--count", f"{base}..{head}", cwd=workspace).strip()
    stat = git("diff", "--shortstat", base, head, cwd=workspace).strip() or "no file changes"
    return f"{commits} commit(s), {stat} since {base[:12]}; head commit: {subject}"
