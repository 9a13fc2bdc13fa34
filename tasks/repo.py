"""Tasks that read the repository: checkout and the pipeline config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from shipyard import git
from shipyard.config import CONFIG_FILE, ConfigError, ConfigIssue, PipelineConfig, parse_config
from shipyard.errors import InputError
from shipyard.home import Home
from tasks.policy import BACKOFF, JITTER, retry_unless


@task(
    name="checkout",
    task_run_name="checkout {sha:.12}",
    retries=2,
    retry_delay_seconds=BACKOFF,
    retry_jitter_factor=JITTER,
    retry_condition_fn=retry_unless(InputError),
    cache_policy=NO_CACHE,  # a resumed run needs the files again, not the path of a workspace removed at the pause
)
def checkout(repo: str, sha: str, home: Home, run_id: str, pull_request: int | None = None) -> tuple[str, str]:
    """Clone at the SHA into the run's own workspace (a pull request's head fetched from refs/pull/N/head);
    returns (workspace, full sha)."""
    workspace = home.workspace(run_id)
    full_sha = git.checkout(repo, sha, workspace, pull_request)
    return str(workspace), full_sha


@task(name="read-config", task_run_name="read shipyard.yaml")
def read_config(workspace: str, ref: str) -> PipelineConfig:
    """Read shipyard.yaml at ref: for pull requests that is the base branch, never the PR head."""
    text = git.read_file(Path(workspace), ref, CONFIG_FILE)
    source = f"{CONFIG_FILE}@{ref[:12]}"
    if text is None:
        raise ConfigError(source, [ConfigIssue("", "the file is missing at this commit")])
    return parse_config(text, source)


@task(name="on-branch", task_run_name="{sha:.12} on {branch}")
def on_branch(workspace: str, sha: str, branch: str) -> None:
    """A deploy says which branch it releases; the commit must be on it, or a Prefect API user could release any
    commit as if it were main's."""
    if not git.on_branch(Path(workspace), sha, branch):
        raise InputError(f"commit {sha[:12]} is not on branch {branch!r} of the repository: refusing to deploy it")


@contextmanager
def checked_out(repo: str, ref: str, home: Home, run_id: str) -> Iterator[tuple[str, str]]:
    """checkout(), and the workspace removed when the block ends, however it ends (a suspension included)."""
    workspace, sha = checkout(repo, ref, home, run_id)
    try:
        yield workspace, sha
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
