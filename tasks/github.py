"""Commit statuses on GitHub. An outage is retried with backoff and logged; it never changes a check's result."""

from __future__ import annotations

import os
import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from shipyard.clients.github import CommitStatus, GitHubClient, GitHubError, GitHubUnavailable
from shipyard.config.schema import PipelineConfig
from tasks.policy import BACKOFF, JITTER, retry_unless

MAX_RETRY_AFTER = 60.0


def github_client(config: PipelineConfig, repository: str | None) -> GitHubClient | None:
    """Built at the flow's entry; None when GitHub is not configured or has no token here (fork PRs get none)."""
    if config.github is None:
        return None
    token = os.environ.get(config.github.token_env)
    if not token:
        get_run_logger().info("no commit statuses: $%s is not set in this run", config.github.token_env)
        return None
    return GitHubClient(config.github.api_url, token, repository or config.github.repository)


@task(
    name="github-status",
    task_run_name="status {status.context}: {status.state}",
    retries=4,
    retry_delay_seconds=BACKOFF,
    retry_jitter_factor=JITTER,
    retry_condition_fn=retry_unless(GitHubError),
    cache_policy=NO_CACHE,
)
def post_status(client: GitHubClient, sha: str, status: CommitStatus) -> None:
    try:
        client.set_status(sha, status)
    except GitHubUnavailable as exc:
        get_run_logger().warning("GitHub status not posted yet: %s", exc)
        if exc.retry_after:
            time.sleep(min(exc.retry_after, MAX_RETRY_AFTER))  # GitHub asked for this pause before a retry
        raise


@task(name="github-people", task_run_name="who made {sha:.12}", retries=4, retry_delay_seconds=BACKOFF,
      retry_jitter_factor=JITTER, retry_condition_fn=retry_unless(GitHubError), cache_policy=NO_CACHE)  # fmt: skip
def change_logins(client: GitHubClient, sha: str) -> tuple[str, ...]:
    """The GitHub accounts that made the commit (author, committer, its pull requests' author and merger), as
    GitHub knows them: the self-approval rule's evidence, which no flow parameter or commit field can forge. Not
    cached anywhere a Prefect API user could rewrite: asked again on every pass."""
    return client.change_logins(sha)


def post_statuses(client: GitHubClient | None, sha: str, statuses: list[CommitStatus]) -> None:
    """Post in parallel and wait; a status that could not be posted is logged, never raised."""
    if client is None:
        return
    futures = [post_status.submit(client, sha, status) for status in statuses]
    for future, status in zip(futures, statuses, strict=True):
        future.wait()
        state = future.state
        if not state.is_completed():
            get_run_logger().warning("GitHub status %s=%s was not posted: %s", status.context, status.state,
                                     state.message)  # fmt: skip
