"""The pipeline configuration a team keeps in its repository (`shipyard.yaml`): the top level, assembled from one
module per section (apps, checks, environments, branches, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipyard.config.apps import App
from shipyard.config.base import Strict
from shipyard.config.branches import DEFAULT_REQUIRED, BranchRule, StageName
from shipyard.config.checks import ChecksPolicy
from shipyard.config.database import DatabaseChecks
from shipyard.config.environments import Environment
from shipyard.config.github import GitHub
from shipyard.config.images import Images
from shipyard.config.nightly import Nightly
from shipyard.config.notifications import Notifications
from shipyard.config.security import Security


class PipelineConfig(Strict):
    version: Literal[1] = Field(description="Schema version of this file.")
    project: str = Field(min_length=1, description="Project name shown in reports and notifications.")
    apps: dict[str, App] = Field(min_length=1, description="The apps of the repository, by name.")
    checks: ChecksPolicy = Field(default_factory=ChecksPolicy, description="How checks run and gate.")
    environments: dict[str, Environment] = Field(default_factory=dict, description="Deploy environments by name.")
    branches: list[BranchRule] = Field(default_factory=list, description="Branch rules; the first match wins.")
    notifications: Notifications = Field(default_factory=Notifications, description="Where results are posted.")
    nightly: Nightly = Field(default_factory=Nightly, description="Schedule of the nightly suite.")
    security: Security = Field(default_factory=Security, description="Security stage: scanners and policy.")
    database: DatabaseChecks = Field(default_factory=DatabaseChecks, description="Database stage settings.")
    github: GitHub | None = Field(None, description="Commit statuses on GitHub; none disables them.")
    images: Images = Field(default_factory=Images, description="Images stage: builds, registry, size budgets.")

    def rule_for(self, branch: str) -> BranchRule | None:
        return next((rule for rule in self.branches if rule.matches(branch)), None)

    def stages_for(
        self, branch: str | None, only: list[StageName] | None = None, extra: list[StageName] | None = None
    ) -> dict[StageName, bool]:
        """Stages to run for a branch, each mapped to whether it is required (no matching rule: the defaults).

        only: run just these; extra: run these too. A stage the rule does not require runs as optional.
        """
        rule = self.rule_for(branch) if branch else None
        required = set(rule.required if rule else DEFAULT_REQUIRED)
        chosen = (
            only
            if only is not None
            else [*(rule.required if rule else DEFAULT_REQUIRED), *(rule.optional if rule else [])]
        )
        return {stage: stage in required for stage in dict.fromkeys([*chosen, *(extra or [])])}
