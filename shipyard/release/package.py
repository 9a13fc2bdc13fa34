"""What the local backend runs when no image was built: the app's folder at the commit, with its dependencies.

The folder is the release's own: its environment (`.venv` for Python, `node_modules` for Node) is a copy of an
install made by a protected run, never a link into a cache, and its Python files are compiled when it is packaged,
so running the release writes nothing into it and its digest stays what the ledger recorded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from shipyard import git
from shipyard.config.apps import App
from shipyard.deps import Prepared, prepare
from shipyard.errors import ShipyardError
from shipyard.home import Home, Zone
from shipyard.release.artifact import folder_digest
from shipyard.runner import run

MARKER = ".packaged"


@dataclass(frozen=True)
class ReleaseFolder:
    path: str
    digest: str  # shipyard.release.artifact.folder_digest, taken as it was packaged


def package(name: str, app: App, workspace: Path, sha: str, home: Home) -> ReleaseFolder:
    if home.zone is not Zone.PROTECTED:
        raise ShipyardError(f"{name}: releases are packaged by protected runs only, from their own installs")
    folder = home.root / "releases" / name / sha[:12]
    if not (folder / MARKER).exists():
        _package(name, app, workspace, sha, home, folder)
    return ReleaseFolder(str(folder), folder_digest(folder))


def _package(name: str, app: App, workspace: Path, sha: str, home: Home, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)  # half-written by a crashed run
    prepared = prepare(name, app, app.versions[0], workspace, sha, home)
    staging = folder.with_name(f"{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    git.export(workspace, sha, [app.path], staging)
    content = staging / "app"
    (staging / app.path).rename(content)
    if prepared.node_modules is not None:
        shutil.copytree(prepared.node_modules, content / "node_modules", symlinks=True)
    else:
        copy_venv(Path(prepared.root) / "venv", content / ".venv", folder / ".venv")
        _compile(prepared, name, content)
    (content / MARKER).write_text(sha)
    content.rename(folder)
    shutil.rmtree(staging)


def copy_venv(source: Path, target: Path, final: Path) -> None:
    """A virtualenv copied to `target`, its scripts pointing at its interpreter once it sits at `final`."""
    shutil.copytree(source, target, symlinks=True)
    old, new = str(source).encode(), str(final).encode()
    for script in (target / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            if old in text:  # console scripts' #! lines and the activate scripts name the venv's folder
                script.write_bytes(text.replace(old, new))


def _compile(prepared: Prepared, name: str, content: Path) -> None:
    result = run([prepared.python, "-m", "compileall", "-q", str(content)], timeout=300)
    if not result.ok:
        raise ShipyardError(f"{name}: compiling the release's Python files failed:\n{result.tail(20)}")


def environment_bin(artifact: Path) -> list[str]:
    """Folders a packaged release puts first on PATH."""
    candidates = [artifact / ".venv" / "bin", artifact / "node_modules" / ".bin"]
    return [str(c) for c in candidates if c.is_dir()]
