from __future__ import annotations

import hashlib
import hmac
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from flows.deploy import production_deploy
from flows.pr_checks import pr_checks
from shipyard.config import load_config
from shipyard.webhooks import Ignored, Rejected, Trigger, route, verify_signature

SECRET = b"webhook-secret-for-tests"
CONFIG = load_config(Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml")
SHA = "9f" * 20
REPO = {
    "clone_url": "https://github.invalid/example/sample-platform.git",
    "full_name": "example/sample-platform",
    "default_branch": "main",
}


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def test_a_correct_signature_passes() -> None:
    verify_signature(SECRET, b'{"a": 1}', signed(b'{"a": 1}'))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "X-Hub-Signature-256 header is missing"),
        ("", "X-Hub-Signature-256 header is missing"),
        ("sha1=abc", "must be 'sha256=<hex digest>'"),
        ("sha256=", "must be 'sha256=<hex digest>'"),
        ("sha256=" + "é" * 64, "must be 'sha256=<hex digest>'"),  # compare_digest raised TypeError on it: a 500
        ("sha256=" + "0" * 63, "must be 'sha256=<hex digest>'"),
        ("sha256=" + "0" * 64, "does not match the body"),
        (signed(b'{"a": 2}'), "does not match the body"),  # a signature of another body
    ],
)
def test_bad_signatures_are_401(header: str | None, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        verify_signature(SECRET, b'{"a": 1}', header)
    assert caught.value.status == 401


def push(branch: str, **extra: Any) -> dict[str, Any]:
    return {"ref": f"refs/heads/{branch}", "after": SHA, "repository": REPO, **extra}


@pytest.mark.parametrize(
    ("branch", "deployment", "environment"),
    [
        ("main", "production-deploy/production-deploy", "production"),
        ("staging", "staging-deploy/staging-deploy", "staging"),
        ("develop", "staging-deploy/staging-deploy", "dev"),
    ],
)
def test_a_push_deploys_where_its_branch_rule_says(branch: str, deployment: str, environment: str) -> None:
    trigger = route("push", "d-1", push(branch), CONFIG)
    assert isinstance(trigger, Trigger)
    assert trigger.deployment == deployment and trigger.idempotency_key == "github-d-1"
    assert trigger.parameters == {"repo": REPO["clone_url"], "sha": SHA, "branch": branch, "environment": environment}
    assert set(trigger.parameters) <= set(inspect.signature(production_deploy.fn).parameters)


def test_a_push_to_a_feature_branch_runs_the_checks_under_the_default_branchs_config() -> None:
    """Anyone who may push to feature/* would otherwise write the config that says where the GitHub token goes
    (github.api_url) and which registry gets the credentials."""
    trigger = route("push", "d-2", push("feature/login"), CONFIG)
    assert isinstance(trigger, Trigger) and trigger.deployment == "pr-checks/pr-checks"
    assert trigger.parameters["config_ref"] == "origin/main" and trigger.parameters["branch"] == "feature/login"
    assert set(trigger.parameters) <= set(inspect.signature(pr_checks.fn).parameters)


@pytest.mark.parametrize(
    ("default", "message"),
    [
        (None, "payload field repository.default_branch is missing"),
        ("--upload-pack=touch /tmp/x", "payload field repository.default_branch is malformed"),
        ("main/../../x", "payload field repository.default_branch is malformed"),
        (["main"], "payload field repository.default_branch is malformed"),
    ],
)
def test_a_push_whose_default_branch_is_missing_or_malformed_is_400(default: Any, message: str) -> None:
    repository = {k: v for k, v in REPO.items() if k != "default_branch"}
    if default is not None:
        repository["default_branch"] = default
    with pytest.raises(Rejected, match=re.escape(message)) as caught:
        route("push", "d-2b", push("feature/login", repository=repository), CONFIG)
    assert caught.value.status == 400


def test_a_pull_request_moved_to_another_base_is_checked_again_under_its_rule() -> None:
    """Statuses belong to the commit: green under a lax base's rule, they would stand for main's after a retarget."""
    moved = pull_request(action="edited", changes={"base": {"ref": {"from": "feature/lax"}}})
    trigger = route("pull_request", "d-edit", moved, CONFIG)
    assert isinstance(trigger, Trigger) and trigger.parameters["branch"] == "main"
    assert trigger.why == "pull request #42 retargeted: feature/login into main"
    retitled = route("pull_request", "d-title", pull_request(action="edited", changes={"title": {"from": "x"}}), CONFIG)
    assert isinstance(retitled, Ignored) and "edited with a new base" in retitled.why


@pytest.mark.parametrize(
    ("event", "payload", "why"),
    [
        ("ping", {}, "ping: the webhook is set up"),
        ("issues", {}, "event 'issues' starts nothing (push and pull_request do)"),
        ("push", {"ref": "refs/tags/v1.4.2", "after": SHA, "repository": REPO}, "is not a branch"),
        ("push", push("main", deleted=True), "refs/heads/main was deleted"),
        ("push", push("hotfix-17"), "no branch rule matches 'hotfix-17'"),
        ("pull_request", {"action": "closed"}, "pull_request 'closed' starts nothing"),
    ],
)
def test_deliveries_that_start_nothing_say_why(event: str, payload: dict[str, Any], why: str) -> None:
    outcome = route(event, "d-3", payload, CONFIG)
    assert isinstance(outcome, Ignored) and why in outcome.why


def test_a_pull_request_is_checked_with_the_config_and_rule_of_its_base() -> None:
    trigger = route("pull_request", "d-4", pull_request(action="synchronize"), CONFIG)
    assert isinstance(trigger, Trigger)
    assert trigger.parameters == {
        "repo": REPO["clone_url"],
        "sha": SHA,
        "branch": "main",
        "config_ref": "b" * 40,
        "github_repo": "example/sample-platform",
        "pr_number": 42,
        "fork": False,
    }
    assert trigger.why == "pull request #42 synchronize: feature/login into main"
    assert set(trigger.parameters) <= set(inspect.signature(pr_checks.fn).parameters)


@pytest.mark.parametrize(
    ("head_repo", "fork"),
    [
        ({"full_name": "example/sample-platform"}, False),
        ({"full_name": "Example/Sample-Platform"}, False),  # GitHub names are case-insensitive
        ({"full_name": "fork-owner/sample-platform"}, True),
        ({"full_name": "example/sample-platform-fork"}, True),
        (None, True),  # the fork was deleted: GitHub sends head.repo null
        ("missing", True),
    ],
)
def test_a_pull_request_whose_head_lives_in_another_repository_is_a_fork(head_repo: Any, fork: bool) -> None:
    head: dict[str, Any] = {"sha": SHA, "ref": "feature/login"}
    if head_repo != "missing":
        head["repo"] = head_repo
    payload = pull_request(pull_request={"head": head, "base": {"sha": "b" * 40, "ref": "main"}})
    trigger = route("pull_request", "d-fork", payload, CONFIG)
    assert isinstance(trigger, Trigger) and trigger.parameters["fork"] is fork
    assert ("from a fork" in trigger.why) is fork


def test_a_fork_head_named_main_runs_under_the_rule_of_the_branch_it_targets_not_mains() -> None:
    head = {"sha": SHA, "ref": "main", "repo": {"full_name": "fork-owner/sample-platform"}}
    payload = pull_request(pull_request={"head": head, "base": {"sha": "b" * 40, "ref": "feature/login"}})
    trigger = route("pull_request", "d-main", payload, CONFIG)
    assert isinstance(trigger, Trigger)
    assert trigger.parameters["branch"] == "feature/login" and trigger.parameters["fork"] is True
    # main requires docs; feature/* makes docs optional: the run gets feature/*'s verdicts
    assert CONFIG.stages_for(trigger.parameters["branch"])["docs"] is False
    assert CONFIG.stages_for("main")["docs"] is True


def test_a_payload_missing_what_routing_needs_is_400_naming_the_field() -> None:
    with pytest.raises(Rejected, match="payload field after is missing") as caught:
        route("push", "d-5", {"ref": "refs/heads/main", "repository": REPO}, CONFIG)
    assert caught.value.status == 400


def pull_request(**changes: Any) -> dict[str, Any]:
    head = {"sha": SHA, "ref": "feature/login", "repo": {"full_name": REPO["full_name"]}}
    base = {"sha": "b" * 40, "ref": "main"}
    payload = {"action": "opened", "number": 42, "repository": REPO, "pull_request": {"head": head, "base": base}}
    return payload | changes


@pytest.mark.parametrize(
    ("event", "payload", "message"),
    [
        ("pull_request", pull_request(number="42; rm -rf /"), "payload field number is '42; rm -rf /'"),
        ("pull_request", pull_request(number=4.2), "payload field number is 4.2"),
        ("pull_request", pull_request(number=True), "payload field number is True"),
        ("pull_request", pull_request(number=0), "payload field number is 0"),
        ("pull_request", pull_request(number="9" * 10_000), "payload field number is '" + "9" * 79 + ", not"),
        (
            "pull_request",
            pull_request(pull_request={"head": {"sha": "HEAD~1", "ref": "x"}, "base": {"sha": SHA}}),
            "payload field pull_request.head.sha is malformed",
        ),
        ("push", push("main", after=["9f" * 20]), "payload field after is malformed"),
        ("push", push("main", after="--upload-pack=touch /tmp/x"), "payload field after is malformed"),
        ("push", push("main", repository=REPO | {"clone_url": 7}), "payload field repository.clone_url is malformed"),
    ],
)
def test_malformed_fields_are_400_naming_the_field(event: str, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(Rejected, match=re.escape(message)) as caught:
        route(event, "d-6", payload, CONFIG)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        (
            "push",
            push(
                "main",
                repository={"clone_url": "https://github.invalid/example/other.git", "full_name": "example/other"},
            ),
        ),
        ("pull_request", pull_request(repository={"clone_url": "x", "full_name": "fork-owner/sample-platform"})),
        ("ping", {"zen": "hello", "repository": {"full_name": "example/other"}}),
        ("push", push("main", repository={"clone_url": "x", "full_name": ["example/sample-platform"]})),
    ],
)
def test_a_delivery_from_a_repository_the_relay_does_not_serve_is_403(event: str, payload: dict[str, Any]) -> None:
    with pytest.raises(
        Rejected, match=re.escape("is not the one this relay serves (example/sample-platform)")
    ) as caught:
        route(event, "d-7", payload, CONFIG)
    assert caught.value.status == 403


def test_the_served_repository_is_matched_as_github_names_it_without_case() -> None:
    payload = push("main", repository=REPO | {"full_name": "Example/Sample-Platform"})
    assert isinstance(route("push", "d-8", payload, CONFIG), Trigger)


def test_a_relay_whose_config_names_no_repository_serves_none() -> None:
    config = CONFIG.model_copy(update={"github": None})
    with pytest.raises(Rejected, match=re.escape("none: its config sets no github.repository")) as caught:
        route("push", "d-9", push("main"), config)
    assert caught.value.status == 403
