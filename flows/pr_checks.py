"""pr-checks: checkout → read config → statuses pending → in parallel: quality, security, database (docs where
the branch rule asks) → images (when asked) → summary, SARIF → statuses final → gate."""

from __future__ import annotations

import datetime
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from shipyard import git
from shipyard.checks.model import CheckResult
from shipyard.checks.plan import matrix, plan_app_stage, plan_checks, plan_security
from shipyard.checks.report import ChecksFailed, Summary, stage_status
from shipyard.clients.github import CommitStatus
from shipyard.config.branches import StageName
from shipyard.config.schema import PipelineConfig
from shipyard.home import Home, Zone
from shipyard.security.scanners import ScanTarget
from tasks.database import verify_migrations
from tasks.docs import build_docs
from tasks.github import github_client, post_statuses
from tasks.images import image_context
from tasks.images_stage import images_stage
from tasks.quality import run_check
from tasks.quality_stage import check_result, quality_stage
from tasks.repo import checkout, read_config
from tasks.report import publish_summary
from tasks.security import publish_sarif, run_scanner

PIPELINE = "pr-checks"


@flow(name=PIPELINE, flow_run_name="pr-checks {sha:.12}")
def pr_checks(
    repo: str,
    sha: str,
    config_ref: str | None = None,
    apps: list[str] | None = None,
    parallelism: int | None = None,
    refresh_cache: bool = False,
    branch: str | None = None,
    stages: list[StageName] | None = None,
    github_repo: str | None = None,
    with_images: bool = False,
    pr_number: int | None = None,
    fork: bool = False,
) -> Summary:
    """Checks of one commit, gated by the branch rule's required stages, in the untrusted zone: what they install
    and the results they cache are never read by a deploy flow.

    config_ref: where shipyard.yaml is read (the base branch for PRs, never the PR head).
    branch: picks the branch rule (required and optional stages): for a pull request its base branch, whatever
    the head is called; none: quality, security, database required.
    stages: run only these stages (a stage the branch rule does not require is optional).
    github_repo: owner/name for commit statuses; default github.repository from the config.
    with_images: add the images stage (build, push, size budgets, image scans) to the branch rule's stages.
    pr_number: the pull request this run checks: its head is fetched from refs/pull/N/head, where GitHub keeps it.
    fork: the pull request comes from a fork: no step gets a credential (no registry push), statuses aside.
    refresh_cache: run every check even where a cached result for the same content exists.
    """
    commit = Commit(repo, sha, config_ref, branch, github_repo, pr_number, fork)
    return check_commit(
        Home.from_env(Zone.UNTRUSTED),
        commit,
        apps=apps,
        parallelism=parallelism,
        refresh_cache=refresh_cache,
        stages=stages,
        with_images=with_images,
    )


@flow(name="release-checks", flow_run_name="release-checks {sha:.12}")
def release_checks(
    repo: str,
    sha: str,
    config_ref: str | None = None,
    branch: str | None = None,
    stages: list[StageName] | None = None,
    refresh_cache: bool = False,
) -> Summary:
    """The checks a deploy flow or the nightly suite runs itself, in the protected zone: its installs and cached
    results are its own, so nothing an untrusted run wrote (a poisoned install, a forged "passed") is read.
    Not a deployment of its own: only a protected flow starts it, so no API call can start it on another pool."""
    commit = Commit(repo, sha, config_ref, branch)
    return check_commit(Home.from_env(Zone.PROTECTED), commit, stages=stages, refresh_cache=refresh_cache)


@dataclass(frozen=True)
class Commit:
    """What a run checks, under which rule, and where its statuses go."""

    repo: str
    sha: str
    config_ref: str | None = None
    branch: str | None = None
    github_repo: str | None = None
    pr_number: int | None = None
    fork: bool = False

    @property
    def tag(self) -> str | None:
        """The image tag naming where the commit came from: pr-N for a pull request (docker/metadata-action's
        convention), never the base branch whose rule it runs under."""
        return f"pr-{self.pr_number}" if self.pr_number else self.branch


def check_commit(
    home: Home,
    commit: Commit,
    *,
    apps: list[str] | None = None,
    parallelism: int | None = None,
    refresh_cache: bool = False,
    stages: list[StageName] | None = None,
    with_images: bool = False,
) -> Summary:
    run_id = flow_run.get_id() or uuid.uuid4().hex
    workspace, reports = str(home.workspace(run_id)), str(home.reports(run_id))
    full_sha, config, pending = commit.sha, None, []
    try:
        _, full_sha = checkout(commit.repo, commit.sha, home, run_id, commit.pr_number)
        config = read_config(workspace, commit.config_ref or full_sha)
        selected = config.stages_for(commit.branch, stages, ["images"] if with_images else [])
        github = github_client(config, commit.github_repo)
        pending = [_status(config, s, "pending", "running") for s in [*selected, PIPELINE]]
        post_statuses(github, full_sha, pending)
        content_id = _content_id(workspace, full_sha)
        side = _start_side_stages(config, selected, apps, workspace, full_sha, reports, refresh_cache, content_id, home)
        results = _quality(config, selected, apps, workspace, full_sha, parallelism, refresh_cache, content_id, home)
        results += [check_result(future) for future in side]
        if "images" in selected:
            results += images_stage(
                config, selected["images"], apps, workspace, full_sha, commit.tag, home, credentials=not commit.fork
            )
        summary = Summary(tuple(results))
        publish_summary(summary, reports, key=PIPELINE)
        if "security" in selected:
            publish_sarif([r for r in results if r.spec.stage == "security"], reports)
        post_statuses(github, full_sha, _final_statuses(config, selected, summary))
    except Exception as exc:
        _post_errors(commit, workspace, config, full_sha, pending, exc)
        raise
    finally:
        for folder in (workspace, f"{workspace}-checks", str(image_context(workspace))):
            shutil.rmtree(folder, ignore_errors=True)
    if not summary.passed:
        raise ChecksFailed(summary)
    return summary


def _post_errors(
    commit: Commit,
    workspace: str,
    config: PipelineConfig | None,
    sha: str,
    pending: list[CommitStatus],
    exc: Exception,
) -> None:
    """A crash must not leave GitHub showing "pending", or nothing at all: every status posted so far, or the
    pipeline's own when the run failed before any (a pull request's head that cannot be fetched), turns "error".
    Without a config (the clone itself failed) there is no GitHub to post to."""
    if config is None and commit.config_ref is not None and Path(workspace, ".git").is_dir():
        try:
            config = read_config(workspace, commit.config_ref)
        except Exception as unreadable:
            get_run_logger().warning("no error status posted: %s", unreadable)
    if config is None:
        return
    statuses = pending or [_status(config, PIPELINE, "error", "")]
    errored = [replace(s, state="error", description=f"the run failed: {exc}") for s in statuses]
    post_statuses(github_client(config, commit.github_repo), sha, errored)


def _content_id(workspace: str, sha: str) -> Any:
    return lambda path: git.object_id(Path(workspace), sha, path)


def _quality(
    config: PipelineConfig,
    stages: dict[StageName, bool],
    apps: list[str] | None,
    workspace: str,
    sha: str,
    parallelism: int | None,
    refresh: bool,
    content_id: Any,
    home: Home,
) -> list[CheckResult]:
    if "quality" not in stages:
        return []
    specs = [
        replace(s, required=s.required and stages["quality"])
        for s in plan_checks(config, matrix(config, apps), content_id)
    ]
    workers = config.checks.workers(parallelism)
    return quality_stage(config, specs, workspace, sha, workers, home, _zoned(run_check, home, refresh))


def _start_side_stages(
    config: PipelineConfig,
    stages: dict[StageName, bool],
    apps: list[str] | None,
    workspace: str,
    sha: str,
    reports: str,
    refresh: bool,
    content_id: Any,
    home: Home,
) -> list[PrefectFuture[Any]]:
    """Security, database and docs run beside the quality stage, on the flow's own task runner."""
    futures: list[PrefectFuture[Any]] = []
    if "security" in stages:
        scanner = _zoned(run_scanner, home, refresh)
        target = ScanTarget.resolve(config, Path(workspace))  # once for every scanner
        for spec in plan_security(config, stages["security"], content_id(""), datetime.date.today()):
            futures.append(scanner.submit(spec, target, config.security, reports, home))
    if "database" in stages:
        verify = _zoned(verify_migrations, home, refresh)
        for spec in plan_app_stage(config, "database", stages["database"], content_id, apps):
            futures.append(verify.submit(spec, config.apps[spec.app], config.database, workspace, sha, home))
    if "docs" in stages:
        for spec in plan_app_stage(config, "docs", stages["docs"], content_id, apps):
            futures.append(build_docs.submit(spec, config.apps[spec.app], workspace, sha, reports, home))
    return futures


def _zoned(task: Any, home: Home, refresh: bool) -> Any:
    """The task with its cached results in its zone's own storage, under keys that name the zone: a result written
    while checking untrusted code never satisfies a protected run. With `refresh`, it runs even where a cached
    result for the same content exists."""
    key = task.cache_key_fn
    return task.with_options(
        cache_key_fn=lambda context, parameters: f"{home.zone}-{key(context, parameters)}",
        result_storage=home.results,
        refresh_cache=True if refresh else None,
    )


def _status(config: PipelineConfig, name: str, state: Any, description: str) -> CommitStatus:
    prefix = config.github.context if config.github else "shipyard"
    return CommitStatus(f"{prefix}/{name}", state, description, flow_run.get_flow_run_ui_url())


def _final_statuses(config: PipelineConfig, stages: dict[StageName, bool], summary: Summary) -> list[CommitStatus]:
    statuses = []
    for stage, required in stages.items():
        state, description = stage_status([r for r in summary.results if r.spec.stage == stage], required)
        statuses.append(_status(config, stage, state, description))
    whole = "success" if summary.passed else "failure"
    return [*statuses, _status(config, PIPELINE, whole, summary.headline())]
