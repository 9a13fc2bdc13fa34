from __future__ import annotations

import pytest

from shipyard.config.load import ConfigError, parse_config, parse_model
from shipyard.policy import Policy
from shipyard.policy.governed import admitted, governed
from shipyard.policy.model import PolicyRefused

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice@laptop"
POLICY = f"""\
repository: https://github.com/example/platform.git
approvers:
  alice: {{keys: ["{KEY}"], git: [alice@example.com]}}
environments:
  production:
    target: {{backend: local, ports: {{api: {{router: 8000, blue: 8001, green: 8002}}}}}}
    branches: [main]
    approval: true
    approvers: [alice]
    min_steps: 2
  staging:
    target: {{backend: local, ports: {{api: {{router: 9000, blue: 9001, green: 9002}}}}}}
    branches: [staging, "release/*"]
"""
REPO = """\
version: 1
project: p
apps:
  api: {path: apps/api, toolchain: python, versions: ["3.11"], lockfile: requirements.lock, checks: {lint: ruff .}}
environments:
  staging:
    target: {backend: local, ports: {api: {router: 8000, blue: 8001, green: 8002}}}
    rollout: {steps: [100]}
  production:
    target: {backend: local, ports: {api: {router: 8000, blue: 8001, green: 8002}}}
    rollout: {steps: [100]}
"""


REPO_URL = "https://github.com/example/platform.git"


def test_another_repository_is_refused() -> None:
    theirs = "https://github.com/mallory/platform.git"  # their own main, started through the Prefect API
    with pytest.raises(PolicyRefused) as refused:
        admitted(policy(), theirs, "staging", "staging")
    assert str(refused.value) == f"repository {theirs!r} is not the one the policy deploys ({REPO_URL})"


def policy() -> Policy:
    return parse_model(POLICY, "policy.yaml", Policy)[0]


def test_the_policys_target_wins_and_the_run_is_told_what_the_repository_tried() -> None:
    # the repository points staging at production's ports
    result = governed(parse_config(REPO, "shipyard.yaml"), "staging", policy().environments["staging"])
    target = result.config.environments["staging"].target
    assert target.model_dump()["ports"]["api"]["router"] == 9000
    (line,) = result.overridden
    assert line.startswith("environments.staging.target: the repository's shipyard.yaml sets {")
    assert line.index('"router": 8000') < line.index("the policy's {") < line.index('"router": 9000')
    assert line.endswith("is used")
    assert result.config.environments["staging"].rollout.steps == [100]  # analysis settings stay the repository's


def test_an_environment_missing_from_the_repository_is_the_policys() -> None:
    config = parse_config(REPO.split("environments:")[0], "shipyard.yaml")
    result = governed(config, "staging", policy().environments["staging"])
    assert result.overridden == () and result.config.environments["staging"].approval is False


@pytest.mark.parametrize(
    ("environment", "branch", "error"),
    [
        ("production", "feature/x", "branch 'feature/x' may not deploy to production: the policy allows main"),
        ("staging", "main", "branch 'main' may not deploy to staging: the policy allows staging, release/*"),
        ("qa", "main", "environment 'qa' is not in the policy (it has: production, staging); an operator adds it"),
    ],
)
def test_admitted_refuses_before_any_work(environment: str, branch: str, error: str) -> None:
    with pytest.raises(PolicyRefused) as refused:
        admitted(policy(), REPO_URL, environment, branch)
    assert str(refused.value).startswith(error)


def test_admitted_allows_listed_branches_and_patterns() -> None:
    assert admitted(policy(), REPO_URL, "staging", "release/1.4").branches == ["staging", "release/*"]
    assert admitted(policy(), REPO_URL, "production", None).approval is True  # a rollback names no branch


def test_a_repository_plan_bolder_than_the_policy_is_refused() -> None:
    with pytest.raises(PolicyRefused, match=r"rollout.steps \[100\] has 1 step\(s\); the policy asks for at least 2"):
        governed(parse_config(REPO, "shipyard.yaml"), "production", policy().environments["production"])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (POLICY.replace("approvers: [alice]", "approvers: [alice, mallory]"),
         "policy.yaml:1: (top level): environments.production.approvers: mallory not under approvers"),
        (POLICY.replace(KEY, "not a key"), "policy.yaml:3: approvers.alice.keys: 'not a key' is not an SSH public key"),
        (POLICY.replace("    approvers: [alice]\n", "    approvers: [alice]\n    required_approvals: 2\n"),
         "required_approvals is 2 but 1 approver(s) are listed"),
        (POLICY.replace("branches: [main]", "branch: [main]"), "unknown key; expected one of: "),
    ],
)  # fmt: skip
def test_a_bad_policy_file_says_where(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as bad:
        parse_model(text, "policy.yaml", Policy)
    assert error in str(bad.value)


def test_one_key_for_two_people_is_refused() -> None:
    text = POLICY.replace("approvers:\n  alice:", f'approvers:\n  bob: {{keys: ["{KEY}"]}}\n  alice:', 1)
    with pytest.raises(ConfigError, match="one key is listed for both bob and alice"):
        parse_model(text, "policy.yaml", Policy)
