"""The repository's `shipyard.yaml` with each environment's policy applied: where the two disagree on what an
environment is, the policy wins and the run says so."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipyard.config.environments import Environment
from shipyard.config.schema import PipelineConfig
from shipyard.policy.model import EnvironmentPolicy, Policy, PolicyRefused

OWNED = (  # the environment fields the policy decides; the repository keeps the rollout's analysis settings
    "target",
    "other_targets",
    "database_url_env",
    "approval",
    "approvers",
    "allow_self_approval",
    "approval_timeout_hours",
)


@dataclass(frozen=True)
class Governed:
    config: PipelineConfig  # the repository's, with the policy's environment
    rules: EnvironmentPolicy
    overridden: tuple[str, ...]  # one line per field the repository tried to set otherwise


def admitted(policy: Policy, repo: str, environment: str, branch: str | None) -> EnvironmentPolicy:
    """The environment's rules, if the policy has it and lets this repository and branch deploy there (None: no
    branch, as for a rollback); checked before any work."""
    if repo != policy.repository:
        raise PolicyRefused(f"repository {repo!r} is not the one the policy deploys ({policy.repository})")
    rules = policy.environment(environment)
    if branch is not None and not rules.allows(branch):
        raise PolicyRefused(
            f"branch {branch!r} may not deploy to {environment}: the policy allows {', '.join(rules.branches)}"
        )
    return rules


def governed(config: PipelineConfig, environment: str, rules: EnvironmentPolicy) -> Governed:
    """Raises PolicyRefused for a repository traffic plan with fewer steps than the policy's minimum."""
    repo = config.environments.get(environment)
    mine = repo or Environment(target=rules.target)
    owned = {field: getattr(rules, field) for field in OWNED}
    overridden = tuple(
        f"environments.{environment}.{field}: the repository's shipyard.yaml sets {_shown(getattr(mine, field))}; "
        f"the policy's {_shown(value)} is used"
        for field, value in owned.items()
        if repo is not None and field in repo.model_fields_set and getattr(repo, field) != value
    )
    steps = mine.rollout.steps
    if len(steps) < rules.min_steps:
        raise PolicyRefused(
            f"environments.{environment}.rollout.steps {steps} has {len(steps)} step(s); the policy asks for at "
            f"least {rules.min_steps} in {environment}"
        )
    environments = dict(config.environments) | {environment: mine.model_copy(update=owned)}
    return Governed(config.model_copy(update={"environments": environments}), rules, overridden)


def _shown(value: Any) -> str:
    dumped = value.model_dump(mode="json", exclude_defaults=True) if hasattr(value, "model_dump") else value
    if isinstance(value, list):
        dumped = [v.model_dump(mode="json", exclude_defaults=True) if hasattr(v, "model_dump") else v for v in value]
    text = json.dumps(dumped, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."
