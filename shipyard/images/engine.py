"""Builds and pushes through the Docker engine's API (docker SDK's low-level client, injected by the caller)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError

LOG_TAIL = 25


class BuildFailed(ShipyardError):
    pass


class PushFailed(ShipyardError):
    def __init__(self, message: str, pushed: list[str]) -> None:
        super().__init__(message)
        self.pushed = pushed


@dataclass(frozen=True)
class Built:
    image_id: str
    bytes: int  # uncompressed, as the engine stores it


@dataclass(frozen=True)
class RegistryAuth:
    username: str
    password: str

    def config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def build(
    api: Any,
    context: Path,
    dockerfile: str,
    tag: str,
    build_args: dict[str, str],
    timeout: float,
    no_cache: bool = False,
    labels: dict[str, str] | None = None,
    network: str = "none",
) -> Built:
    """Legacy builder (no BuildKit here), by default with no network at all: a Dockerfile is the repository's code,
    and with the host's network its RUN steps would reach everything on 127.0.0.1. What it installs is fetched before
    the build (shipyard.images.prefetch). Only Shipyard's own images (base images, the worker) build with
    network="host" (no bridge networks exist on these machines)."""
    log: list[str] = []
    image_id = None
    started = time.monotonic()
    for chunk in api.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        buildargs=build_args,
        network_mode=network,
        rm=True,
        forcerm=True,
        pull=False,
        nocache=no_cache,
        labels=labels,
        decode=True,
        timeout=timeout,
    ):
        if "error" in chunk:
            raise BuildFailed(f"{dockerfile}: {chunk['error'].strip()}\n" + "".join(log[-LOG_TAIL:]))
        if "stream" in chunk:
            log.append(chunk["stream"])
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        if time.monotonic() - started > timeout:
            raise BuildFailed(f"{dockerfile}: build did not finish within {timeout:g}s")
    if image_id is None:
        raise BuildFailed(f"{dockerfile}: the engine reported no image\n" + "".join(log[-LOG_TAIL:]))
    return Built(image_id, int(api.inspect_image(image_id)["Size"]))


def rebuild(api: Any, context: Path, dockerfile: str, tag: str, timeout: float, network: str = "none") -> Built:
    """Build `tag` anew and remove the image it named before unless another tag or a container holds it (by ID,
    the engine would also remove an image's last other tag): a tag rebuilt each time the sources change otherwise
    leaves a dangling image behind every time."""
    before = api.images(name=tag, quiet=True)
    built = build(api, context, dockerfile, tag, {}, timeout, network=network)
    for replaced in before:
        if replaced != built.image_id and not api.inspect_image(replaced)["RepoTags"]:
            with contextlib.suppress(Exception):  # docker's APIError (in use by a container): keeping it is safe
                api.remove_image(replaced)
    return built


def push(
    api: Any,
    repository: str,
    tags: Iterable[str],
    auth: RegistryAuth | None,
    attempts: int,
    backoff: Callable[[int], float] = lambda attempt: 2.0**attempt,
) -> list[str]:
    """Push every tag, each up to `attempts` times with backoff; returns the tags pushed. Raises PushFailed
    (with the registry's own message) naming the tags that did get pushed, so the caller can remove them."""
    pushed: list[str] = []
    for tag in tags:
        for attempt in range(1, attempts + 1):
            error = _push_once(api, repository, tag, auth)
            if error is None:
                pushed.append(tag)
                break
            if attempt == attempts:
                raise PushFailed(f"push of {repository}:{tag} failed after {attempts} attempt(s): {error}", pushed)
            time.sleep(backoff(attempt))
    return pushed


def _push_once(api: Any, repository: str, tag: str, auth: RegistryAuth | None) -> str | None:
    try:
        stream = api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth.config() if auth else None)
        for chunk in stream:
            if "error" in chunk:
                return str(chunk["error"]).strip()
    except Exception as exc:  # the engine itself failed (connection refused...): same retry path
        return f"{type(exc).__name__}: {exc}"
    return None
