"""Tasks of a deploy: package a release, migrate the environment's database, blue-green one app, GitHub deployment."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from shipyard.clients.github import DeploymentState, GitHubClient, GitHubError
from shipyard.config.schema import PipelineConfig
from shipyard.database.migrate import upgrade
from shipyard.errors import InputError
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.pipeline.candidate import Candidate
from shipyard.release import setup
from shipyard.release.artifact import verify_folder
from shipyard.release.backend import Backend
from shipyard.release.engine import Engine, Outcome, ReleaseRequest
from shipyard.release.package import ReleaseFolder, package
from shipyard.release.rollout import Decision, Step
from tasks.once import remembered
from tasks.policy import BACKOFF, JITTER, retry_unless

CUTOVER_WAIT_SECONDS = 3600.0  # an approved run waits this long for the cutover before it (a stuck one is a page)


@task(name="package", task_run_name="package {app}", retries=2, retry_delay_seconds=BACKOFF,
      retry_condition_fn=retry_unless(InputError))  # fmt: skip
def package_release(config: PipelineConfig, app: str, workspace: str, sha: str, home: Home) -> ReleaseFolder:
    """The app's folder at the commit with its own dependencies, and its digest: what the local backend runs when
    no image was built (migrations run from it either way)."""
    return package(app, config.apps[app], Path(workspace), sha, home)


@task(name="migrate", task_run_name="migrate {app} in {environment}", cache_policy=NO_CACHE)
def migrate_database(config: PipelineConfig, environment: str, app: str, folder: ReleaseFolder) -> str | None:
    """Expand-only migrations against the environment's database, after the approval, from the packaged folder
    as it was recorded; returns the revision."""
    url_env = setup.environment(config, environment).database_url_env
    if config.apps[app].migrations is None or url_env is None:
        return None
    url = setup.database_url(config, environment)
    if not url:
        raise InputError(f"environments.{environment}.database_url_env: ${url_env} is not set for this run")
    verify_folder(app, Path(folder.path), folder.digest)
    revision = upgrade(app, config.apps[app], Path(folder.path), url)
    get_run_logger().info("%s: %s database at revision %s", app, environment, revision)
    return revision


@task(name="blue-green", task_run_name="blue-green {request.app} {request.version} in {request.environment}",
      retries=2, retry_delay_seconds=BACKOFF, retry_condition_fn=retry_unless(InputError),
      cache_policy=NO_CACHE)  # fmt: skip
def blue_green(
    config: PipelineConfig, request: ReleaseRequest, ledger: Ledger, backend: Backend, steps: list[int] | None = None
) -> Outcome:
    """One cutover per app and environment at a time, across runs, workers and the CLI: the engine holds the app's
    lock in the ledger and waits for a holder before it (another run's cutover, a rollback). An infrastructure
    failure (ledger, router, backend) has put traffic back on the stable colour: a retry resumes the release."""
    logger = get_run_logger()
    spec = setup.rollout_spec(config, request.environment)
    if steps:
        spec = replace(spec, steps=tuple(steps))
    request = replace(request, artifact=backend.prepare(request.app, request.artifact, request.version, request.sha))
    engine = Engine(
        ledger,
        backend,
        spec,
        setup.smoke_checks(config, request.app),
        on_step=StepLog(logger, request.app),
        lock_wait=CUTOVER_WAIT_SECONDS,
    )
    return engine.deploy(request)


class StepLog:
    """Logs each engine step; a run of waits (every poll) only when its reason changes or every 10 s."""

    def __init__(self, logger: Any, app: str, every: float = 10.0) -> None:
        self.logger, self.app, self.every = logger, app, every
        self._last: tuple[str, float] = ("", 0.0)

    def __call__(self, decision: Decision) -> None:
        kind = re.sub(r"\d+", "#", decision.reason) if decision.step is Step.WAIT else decision.reason
        now = time.monotonic()
        if decision.step is Step.WAIT and kind == self._last[0] and now - self._last[1] < self.every:
            return
        self._last = (kind, now)
        self.logger.info("%s %s: %s", self.app, decision.step.value, decision.reason)


@task(name="github-deployment", retries=4, retry_delay_seconds=BACKOFF, retry_jitter_factor=JITTER,
      retry_condition_fn=retry_unless(GitHubError), cache_policy=NO_CACHE)  # fmt: skip
def _create_deployment(client: GitHubClient, candidate: Candidate) -> int:
    return client.create_deployment(
        candidate.sha, candidate.environment, candidate.title, {"version": candidate.version}
    )


@task(name="github-deployment-status", task_run_name="github deployment: {state}", retries=4,
      retry_delay_seconds=BACKOFF, retry_jitter_factor=JITTER, retry_condition_fn=retry_unless(GitHubError),
      cache_policy=NO_CACHE)  # fmt: skip
def _set_status(client: GitHubClient, deployment: int, state: DeploymentState, why: str, url: str | None) -> None:
    client.set_deployment_status(deployment, state, why, url)


def deployment_status(client: GitHubClient | None, candidate: Candidate, state: DeploymentState, why: str) -> None:
    """The GitHub deployment of this run (created once per run) moves to state; GitHub trouble is logged, never
    raised."""
    if client is None:
        return
    try:
        deployment = remembered("github-deployment", lambda: _create_deployment(client, candidate))
        _set_status(client, int(deployment), state, why, candidate.run_url)
    except Exception as exc:
        get_run_logger().warning("GitHub deployment status %s not posted: %s", state, exc)
