"""What the local backend runs when no image was built: the app's folder at the commit, with its dependencies.

The folder is the release's artifact; it carries its environment as `.venv` (Python) or `node_modules` (Node),
links to the install cache keyed by the lock file, so packaging a release costs one `git archive`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shipyard import git
from shipyard.config.apps import App
from shipyard.deps import prepare
from shipyard.home import Home


def package(name: str, app: App, workspace: Path, sha: str, home: Home) -> Path:
    folder = home.root / "releases" / name / sha[:12]
    if (folder / ".packaged").exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # half-written by a crashed run
    prepared = prepare(name, app, app.versions[0], workspace, sha, home)
    staging = folder.with_name(f"{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    git.export(workspace, sha, [app.path], staging)
    (staging / app.path).rename(staging / "app")
    if prepared.node_modules is not None:
        (staging / "app" / "node_modules").symlink_to(prepared.node_modules)
    else:
        (staging / "app" / ".venv").symlink_to(Path(prepared.root) / "venv")
    (staging / "app").rename(folder)
    shutil.rmtree(staging)
    (folder / ".packaged").write_text(sha)
    return folder


def environment_bin(artifact: Path) -> list[str]:
    """Folders a packaged release puts first on PATH."""
    candidates = [artifact / ".venv" / "bin", artifact / "node_modules" / ".bin"]
    return [str(c) for c in candidates if c.is_dir()]
