"""Commit statuses on GitHub."""

from __future__ import annotations

from pydantic import Field

from shipyard.config.base import Strict


class GitHub(Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name the commit statuses go to.")
    api_url: str = Field("https://api.github.com", description="REST API base URL (GitHub Enterprise: its /api/v3).")
    token_env: str = Field("GITHUB_TOKEN", description="Environment variable holding the token.")
    context: str = Field("shipyard", description="Prefix of the status contexts, e.g. shipyard/security.")
