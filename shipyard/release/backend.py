"""The one small protocol every deploy backend implements (local processes, Kubernetes, ECS).

Backends only observe and act; every decision is made by rollout.decide().
"""

from __future__ import annotations

from typing import Protocol

from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.store import ReleaseView
from shipyard.release.rollout import Capabilities, Health

COLOURS = ("blue", "green")


class RouterError(ShipyardError):
    """Traffic could not be read or moved (HAProxy's admin socket, a Service, an ALB listener)."""


def other(colour: str) -> str:
    return COLOURS[1 - COLOURS.index(colour)]


def release_env(release: ReleaseView) -> dict[str, str]:
    """What a running release knows about itself (its /version endpoint reports these)."""
    return identity_env(release.version, release.sha, release.artifact)


def identity_env(version: str, sha: str, artifact: str) -> dict[str, str]:
    return {"APP_VERSION": version, "GIT_SHA": sha, "SHIPYARD_ARTIFACT": artifact}


def require_image(app: str, artifact: str, backend: str) -> str:
    """Cloud backends run images: a release folder (the local backend's artifact) cannot be shipped there."""
    if artifact.startswith(("/", ".")) or not artifact.strip():
        raise InputError(
            f"{app}: the {backend} backend runs images, got {artifact!r}; build one with the images stage "
            f"(images.apps.{app}) or pass an image reference"
        )
    return artifact


class Backend(Protocol):
    capabilities: Capabilities

    def prepare(self, app: str, artifact: str, version: str, sha: str) -> str:
        """What the ledger records as this release's artifact (an ECS image becomes a task definition ARN)."""

    def start(self, app: str, colour: str, release: ReleaseView) -> None:
        """Start (or restart) the colour running this release; returns without waiting for health."""

    def stop(self, app: str, colour: str) -> None: ...

    def running(self, app: str, colour: str) -> bool: ...

    def health(self, app: str, colour: str) -> Health: ...

    def weights(self, app: str) -> dict[str, int]:
        """Percent of traffic per colour, read back from the router."""

    def set_weights(self, app: str, weights: dict[str, int]) -> None: ...

    def preview_url(self, app: str, colour: str) -> str:
        """Where smoke tests reach this colour directly, before it takes traffic."""

    def router_url(self, app: str) -> str: ...

    def alarm(self, app: str) -> str | None:
        """Why the rollout must stop now, from the platform's own monitoring (None: nothing fires)."""


def serving_colour(backend: Backend, app: str) -> str | None:
    """The colour holding most of the traffic now, as the router reports it."""
    try:
        weights = backend.weights(app)
    except ShipyardError:
        return None
    colour, weight = max(weights.items(), key=lambda item: item[1], default=(COLOURS[0], 0))
    return colour if weight > 0 else None
