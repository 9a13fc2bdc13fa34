"""Slack messages (Block Kit) for each moment of a pipeline; pure, so what Slack is told is table-tested."""

from __future__ import annotations

from typing import Any

from shipyard.clients.slack import Message
from shipyard.pipeline.candidate import Candidate

SECTION_LIMIT = 3000  # Slack rejects longer section text (invalid_blocks)
HEADER_LIMIT = 150


def started(c: Candidate, pipeline: str) -> Message:
    return _message(f":rocket: {pipeline} started: {c.title}", c, [f"*Changes:* {c.changes or '-'}"])


def approval_needed(c: Candidate, approvers: list[str], timeout_hours: float, command: str) -> Message:
    body = [
        f"*Checks:* {c.checks or '-'}",
        f"*Changes:* {c.changes or '-'}",
        f"*Approvers:* {', '.join(approvers)} (within {timeout_hours:g} h)",
        f"*From a terminal:* `{command}`",
    ]
    body += [f"*Image {app}:* {size}" for app, size in sorted(c.image_sizes.items())]
    return _message(f":hourglass: Approval needed: {c.title}", c, body, button="Review in Prefect")


def decided(
    c: Candidate, kind: str, actor: str, via: str, reason: str, ticket: str | None = None, progress: str = ""
) -> Message:
    """progress: '1 of 2 approvals (alice)' while more are needed."""
    icons = {"approved": ":white_check_mark:", "endorsed": ":ballot_box_with_check:", "refused": ":no_entry:",
             "unverified": ":grey_question:"}  # fmt: skip
    icon = icons.get(kind, ":x:")
    body = [f"*{kind.capitalize()}* by {actor} (via {via}): {reason}"]
    if ticket:
        body.append(f"*Change ticket:* {ticket}")
    return _message(f"{icon} {c.title}: {kind} by {actor}{f' ({progress})' if progress else ''}", c, body)


def deployed(c: Candidate, releases: list[str]) -> Message:
    return _message(f":white_check_mark: Deployed {c.title}", c, [f"• {line}" for line in releases])


def rolled_back(c: Candidate, app: str, reason: str) -> Message:
    return _message(f":rotating_light: {app} rolled back in {c.environment}", c, [f"*Reason:* {reason}"])


def failed(c: Candidate, reason: str) -> Message:
    return _message(f":x: {c.title} failed", c, [f"*Reason:* {reason}"])


def superseded(c: Candidate, by_sha: str, by_version: str) -> Message:
    body = [f"{by_version} ({by_sha[:12]}) was approved after this run asked; this older commit will not deploy"]
    return _message(f":fast_forward: {c.title} superseded", c, body)


def emergency_rollback(environment: str, app: str, restored: str, replaced: str, actor: str, reason: str) -> Message:
    text = f":rewind: {app} in {environment}: {restored} is back (replacing {replaced})"
    return Message(text, [_header(text), _section(f"*By* {actor}: {reason}")])


def nightly(project: str, headline: str, rows: list[str], run_url: str | None) -> Message:
    text = f":crescent_moon: {project} nightly: {headline}"
    blocks = [_header(text), _section("\n".join(rows) or "-")]
    if run_url:
        blocks.append(_link(run_url, "Open the report"))
    return Message(text, blocks)


def _message(text: str, c: Candidate, body: list[str], button: str = "Open the run") -> Message:
    blocks = [_header(text), _section("\n".join(body))]
    context = f"{c.project} · {c.branch} · {c.sha[:12]} · by {c.author}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, SECTION_LIMIT)}]})
    if c.run_url:
        blocks.append(_link(c.run_url, button))
    return Message(text, blocks)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, HEADER_LIMIT), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def _link(url: str, label: str) -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url, "action_id": "open"}
    return {"type": "actions", "elements": [button]}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
