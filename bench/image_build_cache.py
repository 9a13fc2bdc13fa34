"""Cold vs warm image builds of an unchanged commit (target: warm/cold <= 0.15), and dev -> prod size per app.

Real Docker engine (DOCKER_HOST or the local socket), the sample's production Dockerfiles on the local base images
(`shipyard images bootstrap`, made here first when missing). Cold: the engine's layer cache is not used (nocache)
though the base images exist, as on a CI runner with its bases pulled: the baseline; warm: the same commit built
again, from a fresh export of it. Three rounds; the ratio is of the medians of the rounds' totals. "same image" says
the warm build reused every layer of the cold one (identical image id); a warm build that did not is a functional
failure (exit non-zero), a slow one never is. The images the bench tagged are removed at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _harness import RUNS, finish, median, ratio, timed

from shipyard import git
from shipyard.config import load_config
from shipyard.deps import prepare
from shipyard.home import Home
from shipyard.images import engine
from shipyard.images.bootstrap import bootstrap
from shipyard.images.prefetch import prefetch
from shipyard.sample import create_sample_repo
from tasks.images import docker_api

api = docker_api()
if isinstance(api, str):
    sys.exit(f"unavailable: {api}")
seconds, created = timed(lambda: bootstrap(api))
print(f"base images: {'made ' + ', '.join(created) if created else 'present'} ({seconds:.1f} s)")
work = Path(tempfile.mkdtemp(prefix="shipyard-bench-images-"))
problems: list[str] = []
tags: list[str] = []
colds: list[float] = []
warms: list[float] = []
sizes: dict[str, tuple[int, int]] = {}
try:
    repo = work / "sample"
    sha = create_sample_repo(repo)
    config = load_config(repo / "shipyard.yaml")
    images, home = config.images, Home.from_env()
    # builds have no network: what they install is fetched once, before any timing, and copied into each context
    apps = config.apps
    prepared = {app: prepare(app, apps[app], apps[app].versions[0], repo, sha, home) for app in images.apps}
    for number in range(1, RUNS + 1):
        cold_total = warm_total = 0.0
        print(f"round {number}: {'app':<9}{'cold s':>8}{'warm s':>8}{'same image':>12}")
        for app, settings in images.apps.items():
            contexts = [work / f"{app}-{number}-{n}" for n in ("cold", "warm")]
            for context in contexts:
                git.export(repo, sha, ["."], context)
                prefetch(prepared[app], settings.prefetch, context, home.prefetched)
            tag = f"bench/{app}:{sha[:12]}"

            def build(
                context: Path, no_cache: bool, dockerfile: str = settings.dockerfile, t: str = tag
            ) -> engine.Built:
                if t not in tags:
                    tags.append(t)
                return engine.build(api, context, dockerfile, t, images.build_args, images.timeout, no_cache)

            cold_context, warm_context = contexts
            cold, first = timed(lambda: build(cold_context, True))  # noqa: B023 (called before the loop moves on)
            warm, built = timed(lambda: build(warm_context, False))  # noqa: B023
            same = built.image_id == first.image_id
            if not same:
                problems.append(f"round {number}, {app}: the warm build made a new image instead of reusing layers")
            if app not in sizes:
                dev = build(
                    warm_context, False, settings.dev_dockerfile or settings.dockerfile, f"bench/{app}-dev:{sha[:12]}"
                )
                sizes[app] = (dev.bytes, built.bytes)
            cold_total, warm_total = cold_total + cold, warm_total + warm
            print(f"         {app:<9}{cold:>8.2f}{warm:>8.2f}{'yes' if same else 'NO':>12}")
        colds.append(cold_total)
        warms.append(warm_total)
finally:
    for tag in tags:
        try:
            api.remove_image(tag, force=True)
        except Exception as exc:  # an image that was never built, or is in use: say so, keep going
            print(f"could not remove {tag}: {exc}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)

print(f"{'app':<9}{'dev MB':>9}{'prod MB':>9}{'reduction':>11}")
for app, (dev_bytes, prod_bytes) in sizes.items():
    print(f"{app:<9}{dev_bytes / 1e6:>9.1f}{prod_bytes / 1e6:>9.1f}{1 - prod_bytes / dev_bytes:>11.0%}")
cold_median = median("cold builds, all apps (baseline)", colds)
warm_median = median("warm builds, all apps", warms)
ratio("warm/cold", warm_median, cold_median, "target <= 0.15")
finish(problems)
