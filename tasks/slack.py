"""Slack notifications from flows: once per run and moment, never failing or holding up the pipeline."""

from __future__ import annotations

import os
from typing import Any

from prefect import get_run_logger, task
from prefect.blocks.system import Secret
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger

from shipyard.clients.slack import Message, SlackNotifier, web_client
from shipyard.config.schema import PipelineConfig
from tasks.once import remembered


def slack_notifier(config: PipelineConfig) -> SlackNotifier | None:
    """Built at the flow's (or service's) entry; None when Slack is not configured or has no token here."""
    settings = config.notifications.slack
    if settings is None:
        return None
    try:
        token = _secret(settings.token_secret) if settings.token_secret else os.environ.get(settings.token_env)
    except ValueError as exc:  # no such block: notifications off, the deploy goes on
        _logger().warning("no Slack notifications: %s", exc)
        return None
    if not token:
        _logger().info("no Slack notifications: $%s is not set here", settings.token_env)
        return None
    return SlackNotifier(web_client(str(token), settings.api_url), settings.channel)


def _logger() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:  # the relay's approval watcher, the CLI
        return get_logger("shipyard.slack")


def _secret(name: str) -> str:
    block: Any = Secret.load(name)
    return str(block.get())


@task(name="slack", task_run_name="slack: {key}", cache_policy=NO_CACHE)
def _post(notifier: SlackNotifier, message: Message, key: str) -> str | None:
    delivery = notifier.post(message)
    if not delivery.ok:
        get_run_logger().warning("Slack message %r not posted after %d attempt(s): %s", key, delivery.attempts,
                                 delivery.error)  # fmt: skip
    return delivery.ts


def notify(notifier: SlackNotifier | None, message: Message, key: str) -> None:
    """Post once per flow run under key (a resumed run does not repeat it); a failure is logged, never raised."""
    if notifier is None:
        return
    remembered(f"slack-{key}", lambda: _post(notifier, message, key) or "not-posted")
