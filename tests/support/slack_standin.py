"""A stand-in for Slack's Web API `chat.postMessage` on 127.0.0.1: rejects what Slack rejects, records what it posts.

Like Slack it answers HTTP 200 with `{"ok": false, "error": ...}` for bad tokens (`invalid_auth`, `not_authed`), an
unknown channel (`channel_not_found`) and malformed Block Kit (`invalid_blocks`), and 429 with Retry-After when told
to rate-limit; `down` makes it answer 503 to everything.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.http_standin import Answer, serving

BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}


@dataclass
class SlackStandIn:
    token: str
    channels: set[str]
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rate_limit_next: int = 0
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            if self.down:
                return 503, {"ok": False, "error": "service_unavailable"}, {}
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            if path != "/api/chat.postMessage":
                return self._error("unknown_method")
            if not headers.get("Authorization", "").startswith("Bearer "):
                return self._error("not_authed")
            if headers["Authorization"] != f"Bearer {self.token}":
                return self._error("invalid_auth")
            args = _arguments(headers.get("Content-Type", ""), body)
            if args.get("channel") not in self.channels:
                return self._error("channel_not_found")
            blocks = args.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            problem = _invalid_blocks(blocks) if blocks is not None else None
            if problem:
                return self._error("invalid_blocks", problem)
            if not args.get("text") and not blocks:
                return self._error("no_text")
            ts = f"{1700000000 + len(self.messages)}.000100"
            self.messages.append({"channel": args["channel"], "text": args.get("text", ""), "blocks": blocks, "ts": ts})
            return 200, {"ok": True, "channel": args["channel"], "ts": ts}, {}

    def _error(self, code: str, detail: str = "") -> Answer:
        self.errors.append(f"{code}: {detail}" if detail else code)
        return 200, {"ok": False, "error": code, "errors": [detail] if detail else []}, {}


def _arguments(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return dict(json.loads(body or b"{}"))
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}


def _invalid_blocks(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return "blocks must be a list of 1 to 50 blocks"
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            return f"[{i}] unsupported type {kind!r}"
        if kind == "header" and not _text(block.get("text"), 150, plain=True):
            return f"[{i}] header needs plain_text of at most 150 characters"
        if kind == "section" and not _text(block.get("text"), 3000):
            return f"[{i}] section text must be a text object of at most 3000 characters"
        if kind == "context" and not (0 < len(block.get("elements", [])) <= 10):
            return f"[{i}] context needs 1 to 10 elements"
        if kind == "actions":
            for button in block.get("elements", []):
                if button.get("type") != "button" or not _text(button.get("text"), 75, plain=True):
                    return f"[{i}] actions need buttons with plain_text of at most 75 characters"
                if "url" in button and not str(button["url"]).startswith(("http://", "https://")):
                    return f"[{i}] button url must be http(s)"
    return None


def _text(obj: Any, limit: int, plain: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in (("plain_text",) if plain else ("plain_text", "mrkdwn")):
        return False
    return 0 < len(str(obj.get("text", ""))) <= limit


@contextmanager
def slack_standin(token: str, channels: set[str]) -> Iterator[SlackStandIn]:
    standin = SlackStandIn(token, channels)

    with serving(standin.handle) as url:
        standin.url = url
        yield standin
