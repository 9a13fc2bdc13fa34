"""Build the release engine's parts from the pipeline config: backend (by name), rollout spec, smoke tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

from shipyard.config.schema import ContainerServe, Environment, LocalTarget, PipelineConfig
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


def apps_in(config: PipelineConfig, name: str) -> list[str]:
    """The apps an environment runs (the ones its target places), in config order."""
    target = environment(config, name).target
    placed = set(target.ports) if isinstance(target, LocalTarget) else set(config.apps)
    return [app for app in config.apps if app in placed and config.apps[app].serve is not None]


def local_backend(config: PipelineConfig, name: str, home: Home) -> LocalBackend:
    env = environment(config, name)
    target = env.target
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


BACKENDS: dict[str, Callable[[PipelineConfig, str, Home], Backend]] = {"local": local_backend}


def backend_for(config: PipelineConfig, name: str, home: Home) -> Backend:
    kind = environment(config, name).target.backend
    if kind not in BACKENDS:
        raise InputError(f"environment {name!r} deploys with the {kind!r} backend, which is not available yet")
    return BACKENDS[kind](config, name, home)


def rollout_spec(config: PipelineConfig, name: str) -> RolloutSpec:
    r = environment(config, name).rollout
    return RolloutSpec(
        steps=tuple(r.steps),
        pause=timedelta(seconds=r.pause_seconds),
        max_error_rate=r.max_error_rate,
        max_p95_ms=r.max_p95_ms,
        min_samples=r.min_samples,
        health_timeout=timedelta(seconds=r.health_timeout_seconds),
        scale_down_delay=timedelta(seconds=r.scale_down_delay_seconds),
    )


def smoke_checks(config: PipelineConfig, app: str) -> list[SmokeCheck]:
    serve = config.apps[app].serve
    if serve is None:
        return []
    return [SmokeCheck(t.path, t.method, t.status, t.json_field, t.equals) for t in serve.smoke]
