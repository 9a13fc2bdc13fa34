"""`shipyard images bootstrap` and `shipyard images worker`: local images built through the Docker engine API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.app import EXIT_ERROR, fail, group, guard, out

commands = group("Container images: local base images.")


@commands.command("bootstrap")
def images_bootstrap(force: Annotated[bool, typer.Option(help="Rebuild existing base images too")] = False) -> None:
    """Create the local base images (Debian via debootstrap, then Python and Node bases) the sample builds on."""
    from shipyard.images.bootstrap import bootstrap

    api = _docker()
    created = guard(lambda: bootstrap(api, force))
    out.print(f"created: {', '.join(created)}" if created else "every base image is already there", highlight=False)


@commands.command("worker")
def images_worker() -> None:
    """Build the image Docker work-pool flow runs execute in (Shipyard installed on the local Python builder)."""
    from shipyard.images.worker import build_worker_image

    api = _docker()
    tag = guard(lambda: build_worker_image(api))
    out.print(f"built {tag}; infra/work-pools/docker.json runs flows in it", highlight=False)


def _docker() -> Any:
    """The Docker engine API client, or exit 3 saying why there is none."""
    from tasks.images import docker_api

    api = docker_api()
    if isinstance(api, str):
        fail(api, EXIT_ERROR)
    return api
