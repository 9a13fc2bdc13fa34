"""A release's folder is its own: packaged by a protected run from its own install, never from what a pull
request's install left in a cache, and compiled so that running it changes nothing its digest covers."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from shipyard.config import load_config
from shipyard.deps import prepare
from shipyard.errors import ShipyardError
from shipyard.home import Home, Zone
from shipyard.release.artifact import folder_digest
from shipyard.release.package import package
from shipyard.sample import commit_all
from tests.capabilities import require_tools
from tests.support.configs import API_APP

WHEEL = "helper-1.0-py3-none-any.whl"
POISON = "import sys; sys.stdout.write('POISONED\\n')\n"  # a .pth line runs at every interpreter start


def wheel(path: Path, poisoned: bool) -> None:
    """A wheel of module `helper` with a console script; the poisoned one also installs a .pth into site-packages."""
    files = {
        "helper.py": "def main():\n    print('helper ok')\n",
        "helper-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: helper\nVersion: 1.0\n",
        "helper-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "helper-1.0.dist-info/entry_points.txt": "[console_scripts]\nhelper = helper:main\n",
    }
    if poisoned:
        files["zz_poison.pth"] = POISON
    record = [f"{name},sha256={_urlsafe(content)},{len(content.encode())}" for name, content in files.items()]
    files["helper-1.0.dist-info/RECORD"] = "\n".join([*record, "helper-1.0.dist-info/RECORD,,"]) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def _urlsafe(content: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "apps" / "api" / "wheels").mkdir(parents=True)
    (repo / "shipyard.yaml").write_text(API_APP)
    (repo / "apps" / "api" / "requirements.lock").write_text(f"./wheels/{WHEEL}\n")
    (repo / "apps" / "api" / "app.py").write_text("import helper\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    return repo


def run(python: Path) -> str:
    done = subprocess.run([str(python), "-c", "import helper; helper.main()"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_pull_requests_poisoned_install_never_reaches_a_release_with_the_same_lockfile(
    repo: Path, tmp_path: Path
) -> None:
    require_tools("git", "python3.11", "bwrap")
    wheel(repo / "apps" / "api" / "wheels" / WHEEL, poisoned=False)
    main = commit_all(repo, "main")
    wheel(repo / "apps" / "api" / "wheels" / WHEEL, poisoned=True)  # the lock file's text does not change
    pull_request = commit_all(repo, "a pull request")
    app = load_config(repo / "shipyard.yaml").apps["api"]
    cache = tmp_path / "cache"

    checked = prepare("api", app, "3.11", repo, pull_request, Home(tmp_path / "ci", shared_cache=cache))
    assert "POISONED" in run(Path(checked.python))  # the attack is real where the PR ran

    protected = Home(tmp_path / "deploy", shared_cache=cache, zone=Zone.PROTECTED)
    released = package("api", app, repo, main, protected)
    folder = Path(released.path)
    assert not (folder / ".venv").is_symlink() and (folder / ".venv" / "bin").is_dir()
    assert run(folder / ".venv" / "bin" / "python") == "helper ok\n"
    script = folder / ".venv" / "bin" / "helper"  # console scripts run the release's own interpreter
    assert f"{folder / '.venv' / 'bin' / 'python'}" in script.read_text() and str(cache) not in script.read_text()
    assert subprocess.run([str(script)], capture_output=True, text=True).stdout == "helper ok\n"
    assert released.digest == folder_digest(folder)


def test_running_a_packaged_release_leaves_its_digest_as_recorded(repo: Path, tmp_path: Path) -> None:
    require_tools("git", "python3.11", "bwrap")
    wheel(repo / "apps" / "api" / "wheels" / WHEEL, poisoned=False)
    sha = commit_all(repo, "main")
    app = load_config(repo / "shipyard.yaml").apps["api"]
    released = package("api", app, repo, sha, Home(tmp_path / "deploy", zone=Zone.PROTECTED))
    folder = Path(released.path)
    done = subprocess.run([str(folder / ".venv" / "bin" / "python"), "-c", "import app"], cwd=folder)
    assert done.returncode == 0
    assert folder_digest(folder) == released.digest  # compiled when packaged: importing wrote nothing


def test_only_a_protected_run_packages_a_release(repo: Path, tmp_path: Path) -> None:
    wheel(repo / "apps" / "api" / "wheels" / WHEEL, poisoned=False)
    sha = commit_all(repo, "main")
    app = load_config(repo / "shipyard.yaml").apps["api"]
    with pytest.raises(ShipyardError, match="packaged by protected runs only"):
        package("api", app, repo, sha, Home(tmp_path / "ci"))
    assert not (tmp_path / "ci" / "releases").exists()
