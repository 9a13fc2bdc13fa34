"""`shipyard approve` (answer a deploy's approval gate) and `shipyard approvals` (record the expired ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import guard, out
from shipyard.config import load_config
from shipyard.errors import InputError


def approve(
    run_id: Annotated[str, typer.Argument(help="Flow run id of the suspended deploy (printed by the run and Slack)")],
    actor: Annotated[str, typer.Option("--as", help="Your name, as listed in the environment's approvers")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving")] = False,
    ticket: Annotated[str | None, typer.Option(help="Change ticket")] = None,
    steps: Annotated[str | None, typer.Option(help="A different traffic plan, e.g. 5,25,100")] = None,
) -> None:
    """Answer a deploy's approval gate from a terminal (the same form as the Prefect UI); the run then checks that
    you may decide and records it as arrived by CLI."""
    from deployments.approvals import answer

    plan = guard(lambda: _steps(steps))
    guard(lambda: answer(run_id, reject, actor, reason, ticket, plan))
    word = "rejection" if reject else "approval"
    out.print(f"{word} by {actor} sent to flow run {run_id}; it resumes and records the decision", highlight=False)


def approvals(
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
) -> None:
    """Record approvals nobody gave in time as expired (the relay does this every 30 s)."""
    from deployments.approvals import sweep_once

    pipeline = guard(lambda: load_config(config))
    recorded = guard(lambda: sweep_once(pipeline))
    out.print(f"{len(recorded)} expired approval(s) recorded: {', '.join(recorded) or '-'}", highlight=False)


def _steps(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--steps {text!r}: expected comma-separated percentages, e.g. 5,25,100") from None
