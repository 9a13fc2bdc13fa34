"""What an image build would download, fetched before it by the pipeline, so the build itself runs with no network.

A Dockerfile comes from the repository under check: with the host's network its RUN steps could reach the Prefect
API, the registry (and overwrite tags, base images included) and anything else on 127.0.0.1. Builds run with no
network at all; the packages their lock files name are fetched first, in the app's sandbox with only the package
registries in reach (as installs are), into the build context at `.shipyard-prefetch/<app>/`: `pip/` holds wheels
for `pip install --no-index --find-links`, `npm/` an npm cache for `npm ci --offline --cache`. Each lock file's
fetch is kept in the zone's store, keyed by its content and the toolchain, and fetched once.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from shipyard import registries
from shipyard.deps import Prepared
from shipyard.egress import egress, registry_endpoints, tool_defaults
from shipyard.errors import ShipyardError
from shipyard.runner import run
from shipyard.sandbox import reclaim, sandboxed, temporary_beside
from shipyard.toolchains import locked

FOLDER = ".shipyard-prefetch"
DONE = ".complete"
TIMEOUT = 900


class PrefetchFailed(ShipyardError):
    pass


def folder(context: Path, app: str) -> Path:
    """The app's prefetch folder in the build context, empty: what the commit may have put there is not what the
    pipeline fetched. It exists even when there is nothing to fetch, so a Dockerfile can always COPY it."""
    into = context / FOLDER / app
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    return into


def prefetch(prepared: Prepared, lockfiles: list[str], context: Path, store: Path) -> Path:
    """Fetch what each lock file (a path in the build context) names into the context's folder for this app."""
    into = folder(context, prepared.app)
    for lockfile in lockfiles:
        fetched = _fetched(prepared, context / lockfile, store)
        shutil.copytree(fetched, into, dirs_exist_ok=True)
    return into


def _fetched(prepared: Prepared, lockfile: Path, store: Path) -> Path:
    if not lockfile.is_file():
        raise PrefetchFailed(f"images.apps.{prepared.app}.prefetch: {lockfile.name} is not a file of the commit")
    content = lockfile.read_bytes()
    key = hashlib.sha256(prepared.toolchain.full_version.encode() + b"\0" + content).hexdigest()[:20]
    root = store / prepared.toolchain.kind / f"{prepared.app}-{key}"
    with locked(root):
        if (root / DONE).exists():
            return root / "files"
        shutil.rmtree(root, ignore_errors=True)
        (root / "work").mkdir(parents=True)
        shutil.copy(lockfile, root / "work" / lockfile.name)
        if prepared.toolchain.kind == "node":
            shutil.copy(lockfile.with_name("package.json"), root / "work" / "package.json")
        settings = registries.machine_settings()
        with temporary_beside(root) as temp, egress(registry_endpoints(settings, tool_defaults(settings))) as gate:
            sandbox = prepared.sandbox((root,), temp, egress=gate, env=settings)
            result = run(sandboxed(sandbox, _command(prepared, root, lockfile.name), root / "work"), timeout=TIMEOUT)
        reclaim(root)
        if not result.ok:
            raise PrefetchFailed(f"{prepared.app}: fetching {lockfile.name} for the image build failed "
                                 f"(exit {result.returncode}):\n{result.tail(20)}{gate.refusals()}")  # fmt: skip
        shutil.rmtree(root / "work")
        (root / DONE).write_text(key)
    return root / "files"


def _command(prepared: Prepared, root: Path, lockfile: str) -> list[str]:
    if prepared.toolchain.kind == "node":  # npm from the sandbox's PATH, as installs run it
        return ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", str(root / "files" / "npm")]
    return [prepared.python, "-m", "pip", "download", "--no-input", "--dest", str(root / "files" / "pip"),
            "-r", lockfile]  # fmt: skip
