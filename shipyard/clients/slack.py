"""Slack notifications through slack-sdk's WebClient (base URL from config, so a stand-in works the same way).

A notification never fails or holds up a deploy: a few short attempts (Slack's Retry-After honoured up to a cap),
then the failure is returned to the caller to log, never raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

DEFAULT_API_URL = "https://slack.com/api/"
RETRYABLE = {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}


@dataclass(frozen=True)
class Message:
    text: str  # the fallback shown in notifications and by clients without Block Kit
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class Delivery:
    ok: bool
    ts: str | None = None  # Slack's id of the posted message
    error: str | None = None
    attempts: int = 1


def web_client(token: str, api_url: str = DEFAULT_API_URL, timeout: float = 5.0) -> WebClient:
    # retries are ours (capped waits); the SDK's own handlers could sleep as long as Slack asks
    return WebClient(token=token, base_url=api_url.rstrip("/") + "/", timeout=int(timeout), retry_handlers=[])


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        channel: str,
        attempts: int = 3,
        max_wait: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.channel = channel
        self.attempts = attempts
        self.max_wait = max_wait
        self.sleep = sleep

    def post(self, message: Message) -> Delivery:
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.chat_postMessage(channel=self.channel, text=message.text, blocks=message.blocks)
                return Delivery(True, ts=str(response.get("ts")), attempts=attempt)
            except SlackApiError as exc:
                code = str(exc.response.get("error") or exc.response.status_code)
                error = f"Slack answered {exc.response.status_code}: {code}"
                if code not in RETRYABLE and exc.response.status_code < 500:
                    return Delivery(False, error=error, attempts=attempt)
                wait = _retry_after(exc.response.headers) or float(2 ** (attempt - 1))
            except OSError as exc:  # connection refused, timeouts, DNS: urllib's errors are OSErrors
                error = f"Slack not reachable ({type(exc).__name__}: {exc})"
                wait = float(2 ** (attempt - 1))
            if attempt < self.attempts:
                self.sleep(min(wait, self.max_wait))
        return Delivery(False, error=error, attempts=self.attempts)


def _retry_after(headers: Any) -> float | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            return float(value) if str(value).isdigit() else None
    return None
