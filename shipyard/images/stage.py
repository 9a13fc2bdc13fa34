"""One app's image: build (and its dev image, for the size comparison), tag, push, read back, judge the budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.checks.model import CheckResult, CheckSpec, Status
from shipyard.config.images import AppImage, Images
from shipyard.images import engine
from shipyard.images.registry import RegistryClient, RegistryError

MB = 1_000_000


@dataclass(frozen=True)
class ImageJob:
    app: str
    settings: AppImage
    images: Images
    context: Path
    tags: tuple[str, ...]
    untrusted: bool = True

    @property
    def name(self) -> str:
        """Images built while checking untrusted code go under `<namespace>/untrusted/`: a pull request's build
        never writes a tag a release, a deploy or a person pulling `<namespace>/<app>` would read."""
        return (
            f"{self.images.namespace}/untrusted/{self.app}" if self.untrusted else f"{self.images.namespace}/{self.app}"
        )

    @property
    def repository(self) -> str:
        return f"{self.images.registry}/{self.name}"


def build_and_push(
    spec: CheckSpec,
    job: ImageJob,
    api: Any,
    registry: RegistryClient,
    auth: engine.RegistryAuth | None,
    backoff: Callable[[int], float] = lambda attempt: 2.0**attempt,
) -> CheckResult:
    started = time.monotonic()

    def verdict(status: Status, summary: str, details: dict[str, str] | None = None) -> CheckResult:
        elapsed = time.monotonic() - started
        return CheckResult(spec, status, summary, elapsed, details=tuple((details or {}).items()))

    args = job.images.build_args
    try:
        built = engine.build(api, job.context, job.settings.dockerfile, f"{job.repository}:{job.tags[0]}", args,
                             job.images.timeout)  # fmt: skip
        dev = None
        if job.settings.dev_dockerfile:
            dev = engine.build(api, job.context, job.settings.dev_dockerfile, f"{job.name}-dev:{job.tags[0]}",
                               args, job.images.timeout)  # fmt: skip
    except engine.BuildFailed as exc:
        return verdict(Status.FAILED, f"build failed: {exc}")
    for tag in job.tags:
        api.tag(built.image_id, job.repository, tag)
    try:
        engine.push(api, job.repository, job.tags, auth, job.images.push_attempts, backoff)
        manifest = registry.manifest(job.name, job.tags[0])
        listed = set(registry.tags(job.name))
    except engine.PushFailed as exc:
        removed = _remove(registry, job.name, exc.pushed)
        return verdict(Status.FAILED, f"{exc}{removed}")
    except RegistryError as exc:
        return verdict(Status.FAILED, f"pushed, but the registry cannot be read back: {exc}")
    missing = [t for t in job.tags if t not in listed]
    if manifest is None or missing:
        return verdict(Status.FAILED, f"the registry does not list {', '.join(missing) or job.tags[0]} after the push")
    size_mb = manifest.compressed_bytes / MB
    details = {
        "image": job.repository,
        "tags": ", ".join(job.tags),
        "digest": manifest.digest,
        "compressed": f"{size_mb:.1f} MB",
        "budget": f"{job.settings.budget_mb:g} MB",
        "uncompressed": f"{built.bytes / MB:.1f} MB",
        "dev image": f"{dev.bytes / MB:.1f} MB" if dev else "-",
        "reduction vs dev": f"{1 - built.bytes / dev.bytes:.0%}" if dev else "-",
    }
    if size_mb > job.settings.budget_mb:
        over = f"{job.app} image is {size_mb:.1f} MB compressed, over its {job.settings.budget_mb:g} MB budget"
        return verdict(Status.FAILED, over, details)
    return verdict(
        Status.PASSED, f"{job.repository}:{job.tags[0]} {size_mb:.1f} MB of {job.settings.budget_mb:g} MB", details
    )


def _remove(registry: RegistryClient, name: str, tags: list[str]) -> str:
    """A failed push leaves no partial set of tags behind: the ones that made it are deleted again."""
    removed = []
    try:
        for tag in tags:
            manifest = registry.manifest(name, tag)
            if manifest is not None:
                registry.delete(name, manifest.digest)
                removed.append(tag)
    except RegistryError as exc:
        return f"; could not remove the tags pushed before the failure ({', '.join(tags)}): {exc}"
    return f"; removed the tags pushed before the failure: {', '.join(removed)}" if removed else ""
