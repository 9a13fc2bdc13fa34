"""Build the release engine's parts from the pipeline config: backend (by name), rollout spec, smoke tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.config.apps import ContainerServe
from shipyard.config.environments import Environment
from shipyard.config.schema import PipelineConfig
from shipyard.config.targets import EcsTarget, KubernetesTarget, LocalTarget, Target
from shipyard.errors import InputError
from shipyard.home import Home
from shipyard.release.backend import Backend
from shipyard.release.local import Container, LocalApp, LocalBackend
from shipyard.release.rollout import RolloutSpec
from shipyard.release.smoke import SmokeCheck


def environment(config: PipelineConfig, name: str) -> Environment:
    try:
        return config.environments[name]
    except KeyError:
        known = ", ".join(sorted(config.environments)) or "(none)"
        raise InputError(f"unknown environment {name!r}; environments are: {known}") from None


def target_of(config: PipelineConfig, name: str, backend: str | None = None) -> Target:
    """The environment's target, or the one of its targets that deploys with `backend` (`--target`)."""
    env = environment(config, name)
    if backend is None:
        return env.target
    for target in env.targets():
        if target.backend == backend:
            return target
    known = ", ".join(t.backend for t in env.targets())
    raise InputError(f"environment {name!r} has no {backend!r} target; its targets are: {known}")


def ledger_environment(config: PipelineConfig, name: str, backend: str | None = None) -> str:
    """The name releases are recorded under: the environment's own for its target, `<env>@<backend>` for one of its
    other targets, so a rollback on one target never restores a release made for another."""
    target = target_of(config, name, backend)
    return name if target is environment(config, name).target else f"{name}@{target.backend}"


def apps_in(config: PipelineConfig, name: str, backend: str | None = None) -> list[str]:
    """The apps an environment's target runs, in config order (locally, only those with a command to serve them;
    a cloud target runs the apps it lists)."""
    target = target_of(config, name, backend)
    placed = set(target.placed())
    local = isinstance(target, LocalTarget)
    return [app for app in config.apps if app in placed and (config.apps[app].serve is not None or not local)]


@dataclass(frozen=True)
class Connections:
    """What a cloud backend needs from its caller; the API clients themselves are built from the target's config."""

    root: Path = Path()  # the repository: Kubernetes manifests are read relative to it
    aws_session: Any = None  # boto3.Session, e.g. from a prefect-aws AwsCredentials block; default boto3's chain


def local_backend(config: PipelineConfig, name: str, home: Home) -> LocalBackend:
    target = target_of(config, name, "local")
    assert isinstance(target, LocalTarget)
    apps = {}
    for app_name, ports in target.ports.items():
        serve = config.apps[app_name].serve
        if serve is None:
            raise InputError(f"apps.{app_name}.serve is missing: the local backend needs the command that serves it")
        apps[app_name] = LocalApp(
            command=serve.command,
            cwd=home.root,
            router_port=ports.router,
            ports=ports.colours(),
            health_path=serve.health,
            ready_path=serve.ready,
            container=_container(serve.container),
            env=database_env(config, name, app_name),
        )
    return LocalBackend(home.root / "local" / name, apps)


def target_url(config: PipelineConfig, name: str, app: str, home: Home) -> str:
    """Where the app's users reach it in this environment (load tests go there), without building a cloud client."""
    target = target_of(config, name)
    if isinstance(target, LocalTarget):
        return local_backend(config, name, home).router_url(app)
    if app not in target.apps:
        raise InputError(f"environments.{name}.target.apps: {app} is not deployed there")
    return target.apps[app].url


def database_env(config: PipelineConfig, name: str, app: str) -> dict[str, str]:
    """The environment's database URL under the name the app reads it from, when configured and set here (a deploy
    checks it is set before it migrates; `status` and `shutdown` do not need it)."""
    migrations = config.apps[app].migrations
    url = database_url(config, name)
    return {migrations.url_env: url} if url and migrations else {}


def database_url(config: PipelineConfig, name: str) -> str | None:
    """The environment's database URL from the variable `database_url_env` names; None when unset or unconfigured."""
    url_env = environment(config, name).database_url_env
    return os.environ.get(url_env) if url_env else None


def _container(settings: ContainerServe | None) -> Container | None:
    if settings is None:
        return None
    return Container(dict(settings.env), settings.read_only, tuple(settings.tmpfs))


def _local(config: PipelineConfig, name: str, target: Target, home: Home, connections: Connections) -> Backend:
    return local_backend(config, name, home)


def _ecs(config: PipelineConfig, name: str, target: Target, home: Home, connections: Connections) -> Backend:
    import boto3

    from shipyard.release.ecs import EcsBackend

    assert isinstance(target, EcsTarget)
    session = connections.aws_session or boto3.Session()
    ecs, elbv2, cloudwatch = (
        session.client(service, region_name=target.region, endpoint_url=target.endpoint_url)
        for service in ("ecs", "elbv2", "cloudwatch")
    )
    return EcsBackend(ecs, elbv2, cloudwatch, target.cluster, dict(target.apps))


def _kubernetes(config: PipelineConfig, name: str, target: Target, home: Home, connections: Connections) -> Backend:
    from shipyard.release.kubernetes import KubernetesBackend, api_client, load_manifest

    assert isinstance(target, KubernetesTarget)
    templates = {
        app: load_manifest(connections.root / settings.manifest, app, f"target.apps.{app}.manifest")
        for app, settings in target.apps.items()
    }
    return KubernetesBackend(
        api_client(target.context),
        target.namespace,
        dict(target.apps),
        templates,
        target.traffic,
    )


BACKENDS: dict[str, Callable[[PipelineConfig, str, Target, Home, Connections], Backend]] = {
    "local": _local,
    "ecs": _ecs,
    "kubernetes": _kubernetes,
}


def backend_for(
    config: PipelineConfig, name: str, home: Home, backend: str | None = None, connections: Connections = Connections()
) -> Backend:
    target = target_of(config, name, backend)
    return BACKENDS[target.backend](config, name, target, home, connections)


def rollout_spec(config: PipelineConfig, name: str) -> RolloutSpec:
    return environment(config, name).rollout.spec()


def smoke_checks(config: PipelineConfig, app: str) -> list[SmokeCheck]:
    serve = config.apps[app].serve
    if serve is None:
        return []
    return [SmokeCheck(t.path, t.method, t.status, t.json_field, t.equals) for t in serve.smoke]
