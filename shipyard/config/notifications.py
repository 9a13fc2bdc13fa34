"""Where results are posted: Slack."""

from __future__ import annotations

from pydantic import Field

from shipyard.config.base import Strict


class Slack(Strict):
    channel: str = Field(pattern=r"^[#@]?[\w.-]+$", description="Channel to post to, e.g. '#deployments'.")
    token_env: str = Field("SLACK_BOT_TOKEN", description="Environment variable holding the bot token.")
    token_secret: str | None = Field(
        None, description="Prefect Secret block holding the bot token; wins over token_env when set."
    )
    api_url: str = Field("https://slack.com/api/", description="Web API base URL (a stand-in in tests).")


class Notifications(Strict):
    slack: Slack | None = Field(None, description="Slack notifications; none disables them.")
