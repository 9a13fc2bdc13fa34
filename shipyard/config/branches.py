"""Branch rules: which stages a branch runs, which of them block, and the environment a push deploys to."""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import Field, model_validator

from shipyard.config.base import Strict

StageName = Literal["quality", "security", "database", "docs", "images"]
DEFAULT_REQUIRED: tuple[StageName, ...] = ("quality", "security", "database")


class BranchRule(Strict):
    branch: str = Field(min_length=1, description="Branch name or glob, e.g. 'main' or 'feature/*'.")
    environment: str | None = Field(None, description="Environment a push deploys to; none means checks only.")
    apps: list[str] | None = Field(None, description="Apps this rule covers; default all.")
    required: list[StageName] = Field(
        list(DEFAULT_REQUIRED), description="Stages whose failure fails the run (quality, security, database, docs)."
    )
    optional: list[StageName] = Field(default_factory=list, description="Stages that run and report but never block.")

    @model_validator(mode="after")
    def _stages_once(self) -> BranchRule:
        both = set(self.required) & set(self.optional)
        if both:
            raise ValueError(f"stages {sorted(both)} are listed as both required and optional")
        return self

    def matches(self, branch: str) -> bool:
        return fnmatch.fnmatchcase(branch, self.branch)
