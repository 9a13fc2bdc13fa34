"""The Slack notifier through the real slack-sdk WebClient against the stand-in: posted once, never raises."""

from __future__ import annotations

import socket

import pytest

from shipyard.clients.slack import Message, SlackNotifier, web_client
from shipyard.pipeline import messages
from shipyard.pipeline.candidate import Candidate
from tests.support.slack_standin import slack_standin

TOKEN = "xoxb-test-token-123"
CANDIDATE = Candidate(
    "platform", "production", "1.4.2", "a" * 40, "main", "Dana <dana@example.com>", ("api",),
    run_url="http://127.0.0.1:4200/runs/flow-run/1", checks="28 passed", changes="2 commit(s)",
)  # fmt: skip


def notifier(api_url: str, token: str = TOKEN, channel: str = "#deployments") -> SlackNotifier:
    return SlackNotifier(web_client(token, api_url), channel, attempts=3, sleep=lambda s: None)


def test_every_pipeline_message_is_accepted_by_the_stand_in() -> None:
    every = [
        messages.started(CANDIDATE, "production-deploy"),
        messages.approval_needed(CANDIDATE, ["alice", "bob"], 24, "shipyard approve RUN --as NAME --reason TEXT"),
        messages.decided(CANDIDATE, "approved", "alice", "ui", "looks good", "CHG-7"),
        messages.decided(CANDIDATE, "refused", "mallory", "cli", "not an approver"),
        messages.deployed(CANDIDATE, ["api 1.4.2 on green"]),
        messages.rolled_back(CANDIDATE, "api", "error rate 12% above 1%"),
        messages.failed(CANDIDATE, "checks failed"),
        messages.superseded(CANDIDATE, "b" * 40, "1.4.3"),
        messages.emergency_rollback("production", "api", "1.4.1", "1.4.2", "bob", "pager"),
        messages.nightly("platform", "all passed", ["quality: 28 passed"], "http://127.0.0.1:4200/runs/x"),
        messages.failed(CANDIDATE, "x" * 10_000),  # cut to Slack's limits, not rejected
    ]
    with slack_standin(TOKEN, {"#deployments"}) as slack:
        results = [notifier(slack.api_url).post(m) for m in every]
    assert [r.ok for r in results] == [True] * len(every), slack.errors
    assert slack.errors == []
    assert slack.texts()[1] == ":hourglass: Approval needed: platform 1.4.2 (aaaaaaaaaaaa) to production"
    buttons = slack.messages[1]["blocks"][-1]["elements"]
    assert buttons[0]["url"] == CANDIDATE.run_url


@pytest.mark.parametrize(
    ("token", "channel", "blocks", "error"),
    [
        ("xoxb-wrong", "#deployments", None, "invalid_auth"),
        (TOKEN, "#nowhere", None, "channel_not_found"),
        (TOKEN, "#deployments", [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "invalid_blocks"),
    ],
)
def test_rejections_are_returned_not_raised_and_not_retried(
    token: str, channel: str, blocks: list[dict[str, object]] | None, error: str
) -> None:
    message = Message("hello", blocks or messages.failed(CANDIDATE, "x").blocks)
    with slack_standin(TOKEN, {"#deployments"}) as slack:
        delivery = notifier(slack.api_url, token, channel).post(message)
    assert not delivery.ok
    assert delivery.attempts == 1
    assert delivery.error is not None and error in delivery.error
    assert TOKEN not in delivery.error
    assert slack.messages == []


def test_rate_limit_is_retried_then_posted_once() -> None:
    waits: list[float] = []
    with slack_standin(TOKEN, {"#deployments"}) as slack:
        slack.rate_limit_next = 2
        sender = SlackNotifier(web_client(TOKEN, slack.api_url), "#deployments", attempts=3, sleep=waits.append)
        delivery = sender.post(messages.failed(CANDIDATE, "x"))
    assert delivery.ok and delivery.attempts == 3
    assert waits == [1.0, 1.0]  # Slack's Retry-After
    assert len(slack.messages) == 1


def test_outage_gives_up_after_the_attempts() -> None:
    with slack_standin(TOKEN, {"#deployments"}) as slack:
        slack.down = True
        delivery = notifier(slack.api_url).post(messages.failed(CANDIDATE, "x"))
    assert not delivery.ok and delivery.attempts == 3
    assert "503" in (delivery.error or "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/api/"
    delivery = notifier(closed).post(messages.failed(CANDIDATE, "x"))
    assert not delivery.ok and "not reachable" in (delivery.error or "")
