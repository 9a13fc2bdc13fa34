"""A first policy drafted from a repository's `shipyard.yaml`, for an operator moving environments out of the
repository: the environments as the file defines them, the branches its rules deploy from, its plan's step count
as the floor, and the approvers it names with the keys and identities the operator supplies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.config.schema import PipelineConfig

PLACEHOLDER = "ssh-ed25519 REPLACE-WITH-{name}-PUBLIC-KEY"


def draft(
    config: PipelineConfig,
    repository: str,
    keys: Mapping[str, list[str]] | None = None,
    identities: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The policy document; an approver without keys here gets a placeholder the policy refuses until replaced."""
    keys, identities = keys or {}, identities or {}
    environments: dict[str, Any] = {}
    for name, env in config.environments.items():
        document = env.model_dump(mode="json", exclude_defaults=True, exclude={"rollout"})
        document["branches"] = [r.branch for r in config.branches if r.environment == name]
        if env.approval:
            document["min_steps"] = len(env.rollout.steps)
        environments[name] = document
    names = dict.fromkeys(a for env in config.environments.values() for a in env.approvers)
    approvers = {
        name: {"keys": keys.get(name) or [PLACEHOLDER.format(name=name)]}
        | ({"git": identities[name]} if identities.get(name) else {})
        for name in names
    }
    return {"repository": repository, "approvers": approvers, "environments": environments}
