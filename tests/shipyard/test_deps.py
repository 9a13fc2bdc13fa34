from pathlib import Path

import pytest

from shipyard.config.apps import App
from shipyard.deps import Prepared, cache_key, tool_env
from shipyard.toolchains import Toolchain, ToolchainUnavailable, resolve

APP = App(path="apps/x", toolchain="python", versions=["3.11"], lockfile="req.lock", checks={"lint": "ruff check ."})
PY = Toolchain("python", "3.11", "3.11.7", "/usr/bin")


def test_install_cache_key_follows_lockfile_toolchain_and_command() -> None:
    base = cache_key(APP, "ruff==1\n", PY)
    assert base == cache_key(APP, "ruff==1\n", PY)
    assert base != cache_key(APP, "ruff==2\n", PY)
    assert base != cache_key(APP, "ruff==1\n", Toolchain("python", "3.11", "3.11.8", "/usr/bin"))
    assert base != cache_key(APP.model_copy(update={"install": "pip install -e ."}), "ruff==1\n", PY)


def test_tools_run_without_the_pipelines_secrets() -> None:
    env = tool_env(
        {
            "PATH": "/bin",
            "HOME": "/root",
            "SLACK_BOT_TOKEN": "xoxb-1",
            "AWS_SECRET_ACCESS_KEY": "k",
            "PREFECT_API_KEY": "p",
            "GITHUB_TOKEN": "g",
            "PIP_INDEX_URL": "file:///x",
            "LC_ALL": "C",
        }
    )
    assert env == {"PATH": "/bin", "HOME": "/root", "PIP_INDEX_URL": "file:///x", "LC_ALL": "C", "CI": "true"}


def test_unknown_python_version_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ToolchainUnavailable, match=r"python2\.1 is not installed"):
        resolve("python", "2.1", tmp_path)


def test_a_sandbox_sees_the_installation_a_venvs_python_really_runs(tmp_path: Path) -> None:
    """A venv made by a python on PATH (a shim, another venv) links into the real installation (pyenv here): the
    sandbox must see that prefix, or every script in the venv fails with 'required file not found'."""
    real = tmp_path / "pyenv" / "versions" / "3.11.7" / "bin"
    real.mkdir(parents=True)
    (real / "python3.11").write_text("")
    venv_bin = tmp_path / "install" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(real / "python3.11")
    shims = Toolchain("python", "3.11", "3.11.7", str(tmp_path / "shims"))
    prepared = Prepared("api", shims, "k", str(venv_bin.parents[1]))
    assert prepared.toolchain_folders == (tmp_path, tmp_path / "pyenv" / "versions" / "3.11.7")
