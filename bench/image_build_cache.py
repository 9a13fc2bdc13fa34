"""Cold vs warm image builds of an unchanged commit (target: warm/cold <= 0.15), and dev -> prod size per app.

Real Docker engine (DOCKER_HOST or the local socket), the sample's production Dockerfiles on the local base images
(`shipyard images bootstrap`). Cold: the engine's layer cache is not used (nocache) though the base images exist,
as on a CI runner with its bases pulled; warm: the same commit built again, from a fresh export of it. "same
image" says the warm build reused every layer of the cold one (identical image id).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _harness import ROOT, timed

sys.path.insert(0, str(ROOT))

from shipyard import git
from shipyard.config import load_config
from shipyard.images import engine
from shipyard.images.bootstrap import bootstrap
from shipyard.sample import create_sample_repo
from tasks.images import docker_api

api = docker_api()
if isinstance(api, str):
    sys.exit(f"unavailable: {api}")
bootstrap(api)
work = Path(tempfile.mkdtemp(prefix="shipyard-bench-images-"))
try:
    repo = work / "sample"
    sha = create_sample_repo(repo)
    images = load_config(repo / "shipyard.yaml").images
    cold_total = warm_total = 0.0
    print(f"{'app':<9}{'cold s':>8}{'warm s':>8}{'same image':>12}{'dev MB':>9}{'prod MB':>9}{'reduction':>11}")
    for app, settings in images.apps.items():
        contexts = [work / f"{app}-{n}" for n in ("cold", "warm")]
        for context in contexts:
            git.export(repo, sha, ["."], context)
        tag = f"bench/{app}:{sha[:12]}"

        def build(context: Path, no_cache: bool, dockerfile: str = settings.dockerfile, t: str = tag) -> engine.Built:
            return engine.build(api, context, dockerfile, t, images.build_args, images.timeout, no_cache)

        cold_context, warm_context = contexts
        cold, first = timed(lambda: build(cold_context, True))  # noqa: B023 (called before the loop moves on)
        warm, built = timed(lambda: build(warm_context, False))  # noqa: B023
        dev = build(warm_context, False, settings.dev_dockerfile or settings.dockerfile, f"bench/{app}-dev:{sha[:12]}")
        cold_total, warm_total = cold_total + cold, warm_total + warm
        reduction = 1 - built.bytes / dev.bytes
        print(
            f"{app:<9}{cold:>8.2f}{warm:>8.2f}{'yes' if built.image_id == first.image_id else 'NO':>12}"
            f"{dev.bytes / 1e6:>9.1f}{built.bytes / 1e6:>9.1f}{reduction:>11.0%}"
        )
    print(f"total    {cold_total:>8.2f}{warm_total:>8.2f}")
    print(f"warm/cold = {warm_total / cold_total:.3f}  (target <= 0.15)")
finally:
    shutil.rmtree(work, ignore_errors=True)
