"""The images stage: export the commit → build, push and measure each app's image (N at a time) → scan the
images that were built → size table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from shipyard import git
from shipyard.checks.model import CheckResult, Status, not_run
from shipyard.checks.plan import plan_images
from shipyard.config.schema import PipelineConfig
from shipyard.home import Home, Zone
from shipyard.images.stage import ImageJob
from shipyard.images.tags import image_tags, release_version
from tasks.images import (
    build_image,
    docker_api,
    image_context,
    prefetch_packages,
    publish_image_sizes,
    registry_auth,
    scan_built_image,
)
from tasks.quality_stage import check_result


def images_stage(
    config: PipelineConfig,
    required: bool,
    apps: list[str] | None,
    workspace: str,
    sha: str,
    tag: str | None,
    home: Home,
    *,
    credentials: bool = True,
) -> list[CheckResult]:
    """credentials: False for a fork's pull request, whose run gets no registry credentials: nothing is built or
    pushed, and each image check says so as unavailable (never passed)."""
    specs = plan_images(config, required, apps)
    if not specs:
        return []
    if not credentials:
        why = "not built: a fork's pull request gets no registry credentials to push with"
        return [not_run(s, Status.UNAVAILABLE, why) for s in specs]
    context = image_context(workspace)
    git.export(Path(workspace), sha, ["."], context)
    tags = tuple(image_tags(sha, release_version(git.tags_at(Path(workspace), sha), config.images.version), tag))
    untrusted = home.zone is Zone.UNTRUSTED
    jobs = {app: ImageJob(app, settings, config.images, context, tags, untrusted)
            for app, settings in config.images.apps.items()}  # fmt: skip
    api = docker_api()
    auth = registry_auth(config)
    builds = [s for s in specs if s.check == "image"]
    try:
        with ThreadPoolTaskRunner[Any](max_workers=config.images.parallelism) as runner:
            fetched = {s.app: runner.submit(prefetch_packages, {"app": s.app, "config": config, "workspace": workspace,
                                                                "sha": sha, "context": str(context), "home": home})
                       for s in builds}  # fmt: skip
            futures = [runner.submit(build_image, {"spec": s, "job": jobs[s.app], "api": api, "auth": auth,
                                                   "not_fetched": fetched[s.app]})
                       for s in builds]  # fmt: skip
            results = [check_result(f) for f in futures]
            built = {r.spec.app for r in results if r.details}
            scans = [s for s in specs if s.check != "image" and s.app in built]
            futures = [runner.submit(scan_built_image, {"spec": s, "job": jobs[s.app], "config": config, "home": home})
                       for s in scans]  # fmt: skip
            results += [check_result(f) for f in futures]
        results += [not_run(s, Status.SKIPPED, "the image was not built") for s in specs
                    if s.check != "image" and s.app not in built]  # fmt: skip
        publish_image_sizes(results)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return results
