"""GitHub webhook deliveries: signature check and which pipeline a delivery starts (pure; the relay does I/O)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.config.schema import PipelineConfig
from shipyard.errors import InputError

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
PR_ACTIONS = ("opened", "synchronize", "reopened")
SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1, or SHA-256 object format
BRANCH = re.compile(r"(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}")  # what git accepts, less what a ref could hide in


class Rejected(InputError):
    """A delivery the relay refuses, with the HTTP status it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Trigger:
    deployment: str
    parameters: dict[str, Any]
    idempotency_key: str
    why: str


@dataclass(frozen=True)
class Ignored:
    why: str
    details: dict[str, str] = field(default_factory=dict)


def verify_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """X-Hub-Signature-256 is 'sha256=' + HMAC-SHA256(secret, raw body) in hex; compared in constant time."""
    if not header:
        raise Rejected(401, "X-Hub-Signature-256 header is missing")
    signature = header.strip().lower()
    if not SIGNATURE.fullmatch(signature):  # also keeps compare_digest, which raises on non-ASCII, to ASCII
        raise Rejected(401, "X-Hub-Signature-256 must be 'sha256=<hex digest>' with 64 hex digits")
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Rejected(401, "X-Hub-Signature-256 does not match the body")


def route(event: str, delivery: str, payload: dict[str, Any], config: PipelineConfig) -> Trigger | Ignored:
    """push → the branch rule's environment (production-deploy when it needs approval, else staging-deploy) or
    pr-checks; pull_request opened/synchronize/reopened → pr-checks with the config read at the base commit."""
    key = f"github-{delivery}"
    _served(payload, config)
    if event == "ping":
        return Ignored("ping: the webhook is set up")
    if event == "push":
        return _push(payload, config, key)
    if event == "pull_request":
        return _pull_request(payload, key)
    return Ignored(f"event {event!r} starts nothing (push and pull_request do)")


def _push(payload: dict[str, Any], config: PipelineConfig, key: str) -> Trigger | Ignored:
    ref = str(payload.get("ref", ""))
    if not ref.startswith("refs/heads/"):
        return Ignored(f"push to {ref or 'an unknown ref'} is not a branch")
    if payload.get("deleted"):
        return Ignored(f"{ref} was deleted")
    branch = ref.removeprefix("refs/heads/")
    rule = config.rule_for(branch)
    if rule is None:
        return Ignored(f"no branch rule matches {branch!r}")
    sha = _text(payload, "after", shape=COMMIT)
    base = {"repo": _text(payload, "repository", "clone_url"), "sha": sha, "branch": branch}
    github_repo = _text(payload, "repository", "full_name")
    if rule.environment is None:
        # a branch anyone with push access may write to: its checks run under the default branch's config, never
        # one the push brings (which would say where the GitHub token and the registry credentials go)
        default = _text(payload, "repository", "default_branch", shape=BRANCH)
        parameters = {**base, "github_repo": github_repo, "config_ref": f"origin/{default}"}
        return Trigger("pr-checks/pr-checks", parameters, key, f"push to {branch}: checks")
    gated = config.environments[rule.environment].approval
    deployment = "production-deploy/production-deploy" if gated else "staging-deploy/staging-deploy"
    parameters = {**base, "environment": rule.environment}
    return Trigger(deployment, parameters, key, f"push to {branch}: deploy to {rule.environment}")


def _pull_request(payload: dict[str, Any], key: str) -> Trigger | Ignored:
    action = str(payload.get("action", ""))
    retargeted = action == "edited" and isinstance(payload.get("changes"), dict) and "base" in payload["changes"]
    if action not in PR_ACTIONS and not retargeted:
        starters = f"{', '.join(PR_ACTIONS)} do, and edited with a new base"
        return Ignored(f"pull_request {action!r} starts nothing ({starters})")
    number = _required(payload, "number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise Rejected(400, f"payload field number is {number!r:.80}, not a pull request number")
    sha = _text(payload, "pull_request", "head", "sha", shape=COMMIT)
    base = _text(payload, "pull_request", "base", "ref")
    github_repo = _text(payload, "repository", "full_name")  # a pull_request event's repository is the base's
    fork = _is_fork(payload, github_repo)
    parameters = {
        "repo": _text(payload, "repository", "clone_url"),
        "sha": sha,
        # the rule, the config and the commands come from the base branch, never from the PR head: a head
        # branch (a fork's above all) can be named anything, `main` included
        "branch": base,
        "config_ref": _text(payload, "pull_request", "base", "sha", shape=COMMIT),
        "github_repo": github_repo,
        "pr_number": number,
        "fork": fork,
    }
    head = _text(payload, "pull_request", "head", "ref")
    # a new base is a new rule: the statuses a laxer one gave the head must not stand for the stricter one
    what = "retargeted" if retargeted else action
    why = f"pull request #{number}{' from a fork' if fork else ''} {what}: {head} into {base}"
    return Trigger("pr-checks/pr-checks", parameters, key, why)


def _is_fork(payload: dict[str, Any], base: str) -> bool:
    """The head lives in another repository than the base; a deleted fork's head repo is null: a fork too."""
    head = payload["pull_request"]["head"].get("repo")
    name = head.get("full_name") if isinstance(head, dict) else None
    return not isinstance(name, str) or name.lower() != base.lower()


def _required(payload: dict[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise Rejected(400, f"payload field {'.'.join(keys)} is missing")
        value = value[key]
    return value


def _text(payload: dict[str, Any], *keys: str, shape: re.Pattern[str] | None = None) -> str:
    value = _required(payload, *keys)
    if not isinstance(value, str) or (shape is not None and not shape.fullmatch(value)):
        raise Rejected(400, f"payload field {'.'.join(keys)} is malformed: {str(value)[:80]!r}")
    return value


def _served(payload: dict[str, Any], config: PipelineConfig) -> None:
    """A delivery about another repository (an organisation's webhook, a shared secret) is refused: its push to
    `main` would otherwise be queued as a production deploy of that repository, with its own config and approvers."""
    repository = payload.get("repository")
    if repository is None:
        return  # an organisation-level event (ping of an organisation hook): it names no repository to run
    served = config.github.repository if config.github else None
    name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(name, str) or served is None or name.lower() != served.lower():
        serves = served or "none: its config sets no github.repository"
        raise Rejected(
            403, f"repository {str(name)[:100]!r} is not the one this relay serves ({serves}); nothing queued"
        )
