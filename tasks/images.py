"""Tasks of the images stage: build, push and measure one app's image; scan it; publish the size table."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import docker
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from shipyard import deps
from shipyard.checks.model import CheckResult, CheckSpec, Status, not_run
from shipyard.config.schema import PipelineConfig
from shipyard.errors import InputError, ShipyardError
from shipyard.home import Home
from shipyard.images.engine import RegistryAuth
from shipyard.images.prefetch import folder, prefetch
from shipyard.images.registry import RegistryClient
from shipyard.images.stage import ImageJob, build_and_push
from shipyard.security import policy
from shipyard.security.scanners import scan_image
from tasks.policy import check_state


def docker_api() -> docker.APIClient | str:
    """The engine's API client (DOCKER_HOST, default the local socket), or the reason there is none."""
    try:
        api = docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), version="auto")
        api.ping()
    except Exception as exc:
        return f"Docker engine not reachable: {type(exc).__name__}: {exc}"
    return api


def registry_auth(config: PipelineConfig) -> RegistryAuth | None:
    """Credentials from the prefect-docker DockerRegistryCredentials block the config names."""
    if config.images.credentials_block is None:
        return None
    from prefect_docker.credentials import DockerRegistryCredentials

    name = config.images.credentials_block
    try:
        block = DockerRegistryCredentials.load(name)
    except ValueError:
        raise InputError(
            f"images.credentials_block: no DockerRegistryCredentials block named {name!r} on the Prefect server"
        ) from None
    return RegistryAuth(block.username, block.password.get_secret_value())


@task(task_run_name="fetch packages for the {app} image", cache_policy=NO_CACHE)
def prefetch_packages(
    app: str, config: PipelineConfig, workspace: str, sha: str, context: str, home: Home
) -> str | None:
    """What the build of the app's image installs, fetched into its context (the build has no network); None when
    done, else why not (the build check fails with it)."""
    settings = config.images.apps[app]
    if not settings.prefetch:
        folder(Path(context), app)
        return None
    try:
        prepared = deps.prepare(app, config.apps[app], config.apps[app].versions[0], Path(workspace), sha, home)
        prefetch(prepared, settings.prefetch, Path(context), home.prefetched)
    except ShipyardError as exc:
        return str(exc)
    return None


@task(task_run_name="image {job.app}", cache_policy=NO_CACHE)
def build_image(
    spec: CheckSpec, job: ImageJob, api: docker.APIClient | str, auth: RegistryAuth | None, not_fetched: str | None
) -> CheckResult | State:
    """Push retries happen inside (configured attempts with backoff) so the check ends with the registry's message."""
    if isinstance(api, str):
        return check_state(not_run(spec, Status.UNAVAILABLE, api))
    if not_fetched is not None:
        return check_state(
            not_run(spec, Status.FAILED, f"the packages the build installs were not fetched: {not_fetched}")
        )
    registry = RegistryClient(job.images.registry, auth.username if auth else None, auth.password if auth else None)
    try:
        return check_state(build_and_push(spec, job, api, registry, auth))
    finally:
        registry.close()


@task(task_run_name="scan image {job.app}", cache_policy=NO_CACHE)
def scan_built_image(spec: CheckSpec, job: ImageJob, config: PipelineConfig, home: Home) -> CheckResult | State:
    outcome = scan_image(f"{job.repository}:{job.tags[0]}", spec.check, spec.timeout, home.tools)
    return check_state(policy.verdict(spec, outcome, config.security, datetime.date.today()))


@task(name="publish-image-sizes", task_run_name="publish image sizes")
def publish_image_sizes(results: list[CheckResult]) -> None:
    rows = [
        {"app": r.spec.app, "status": r.status.value, **dict(r.details)} for r in results if r.spec.check == "image"
    ]
    failed = [r.summary for r in results if r.spec.check == "image" and r.status is not Status.PASSED]
    create_table_artifact(
        key="image-sizes", table=rows, description="; ".join(failed) or f"{len(rows)} image(s) within budget"
    )


def image_context(workspace: str) -> Path:
    return Path(f"{workspace}-images")
