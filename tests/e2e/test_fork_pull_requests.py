"""A pull request from a fork, end to end on a real Prefect server: GitHub's payload routed by the relay's own code,
the head fetched from refs/pull/N/head, the base branch's rule and config, statuses on a GitHub stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import git
from shipyard.config import load_config
from shipyard.sample import commit_all, create_sample_repo
from shipyard.webhooks import Trigger, route
from tests.capabilities import require_tools
from tests.e2e.test_pr_checks import CliRun, shipyard
from tests.support.configs import API_APP
from tests.support.github_standin import GitHubStandIn, github_standin

pytestmark = pytest.mark.slow

TOKEN = "ghs_fork_standin_0123456789"
NUMBER = 5
# main's rule asks for docs too; develop's for quality only: the statuses posted show whose rule the run used
BASE_CONFIG = (
    API_APP
    + """\
github:
  repository: example/sample-platform
  api_url: {api}
branches:
  - {{branch: main, required: [quality, docs]}}
  - {{branch: develop, required: [quality]}}
"""
)


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandIn]:
    with github_standin(TOKEN) as standin:
        yield standin


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory, github: GitHubStandIn) -> tuple[Path, str]:
    """The base repository with the pull request's target branch, `develop`; returns (repo, develop's commit)."""
    require_tools("git", "python3.11")
    repo = tmp_path_factory.mktemp("upstream")
    create_sample_repo(repo)
    (repo / "shipyard.yaml").write_text(BASE_CONFIG.format(api=github.url))
    base = commit_all(repo, "pipeline config")
    git.git("branch", "develop", base, cwd=repo)
    return repo, base


def fork_head(upstream: Path, folder: Path, lint_error: bool = True) -> str:
    """A fork's branch named `main`: it breaks lint and rewrites shipyard.yaml so that lint cannot fail and main's
    rule is gone. GitHub keeps its head at refs/pull/N/head of the base repository, on no branch there."""
    git.git("clone", "--quiet", f"file://{upstream}", str(folder))
    if lint_error:
        (folder / "apps" / "api" / "api" / "fork.py").write_text("import os\n")  # ruff F401: unused import
    (folder / "shipyard.yaml").write_text(
        (folder / "shipyard.yaml").read_text().replace("lint: ruff check .", "lint: python -c pass")
    )
    head = commit_all(folder, "a fork's change")
    git.git("push", "--quiet", "--force", f"file://{upstream}", f"{head}:refs/pull/{NUMBER}/head", cwd=folder)
    return head


def delivery(upstream: Path, head: str, base: str) -> dict[str, Any]:
    return {
        "action": "opened",
        "number": NUMBER,
        "repository": {"clone_url": f"file://{upstream}", "full_name": "example/sample-platform"},
        "pull_request": {
            "head": {"sha": head, "ref": "main", "repo": {"full_name": "fork-owner/sample-platform"}},
            "base": {"sha": base, "ref": "develop", "repo": {"full_name": "example/sample-platform"}},
        },
    }


def run_trigger(env: dict[str, str], trigger: Trigger) -> CliRun:
    """`shipyard run pr-checks` with exactly the parameters the relay would hand the pr-checks deployment."""
    flags = {"pr_number": "--pr"}
    args: list[str] = []
    for name, value in trigger.parameters.items():
        flag = flags.get(name, "--" + name.replace("_", "-"))
        args += [flag] if value is True else [] if value is False else [flag, str(value)]
    return shipyard(dict(env, GITHUB_TOKEN=TOKEN), "run", "pr-checks", *args)


def test_a_fork_named_main_is_checked_at_its_pull_ref_under_the_base_branchs_rule_and_config(
    shipyard_env: dict[str, str], github: GitHubStandIn, upstream: tuple[Path, str], tmp_path: Path
) -> None:
    repo, base = upstream
    head = fork_head(repo, tmp_path / "fork")
    trigger = route("pull_request", "fork-1", delivery(repo, head, base), load_config(repo / "shipyard.yaml"))
    assert isinstance(trigger, Trigger)
    assert trigger.parameters["fork"] is True and trigger.parameters["branch"] == "develop"
    run = run_trigger(shipyard_env, trigger)
    assert run.code == 1, run.output  # checks ran and failed: the head's own lint error, under the base's lint
    assert "F401" in run.output and "fork.py" in run.output
    assert github.contexts(head) == {
        "shipyard/quality": ["pending", "failure"],  # develop's rule: quality only; main's would add docs
        "shipyard/pr-checks": ["pending", "failure"],
    }
    assert all(s["repo"] == "example/sample-platform" for s in github.statuses if s["sha"] == head)


def test_a_fork_head_that_cannot_be_fetched_posts_an_error_status(
    shipyard_env: dict[str, str], github: GitHubStandIn, upstream: tuple[Path, str], tmp_path: Path
) -> None:
    """The fork pushed again before the run started: the delivery's head is no longer at refs/pull/N/head."""
    repo, base = upstream
    replaced = fork_head(repo, tmp_path / "first", lint_error=False)
    fork_head(repo, tmp_path / "second")
    trigger = route("pull_request", "fork-2", delivery(repo, replaced, base), load_config(repo / "shipyard.yaml"))
    assert isinstance(trigger, Trigger)
    run = run_trigger(shipyard_env, trigger)
    assert run.code != 0, run.output
    assert github.contexts(replaced) == {"shipyard/pr-checks": ["error"]}
    (status,) = [s for s in github.statuses if s["sha"] == replaced]
    assert f"refs/pull/{NUMBER}/head" in status["description"] and "not found" in status["description"]
