"""`shipyard webhook serve`: the GitHub webhook relay (each accepted delivery becomes exactly one flow run)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli.app import EXIT_BAD_INPUT, fail, group, guard, out
from shipyard.home import Home
from shipyard.webhook_spool import KEEP_DAYS

commands = group("The GitHub webhook relay.")


@commands.command("serve")
def webhook_serve(
    config: Annotated[Path, typer.Option(help="shipyard.yaml of the default branch (its branch rules route)")],
    port: Annotated[int, typer.Option(help="Port")] = 8787,
    host: Annotated[str, typer.Option(help="Address; a proxy in front of it faces GitHub")] = "127.0.0.1",
    secret_env: Annotated[str, typer.Option(help="Variable holding the webhook secret")] = "GITHUB_WEBHOOK_SECRET",
    watch_seconds: Annotated[float, typer.Option(help="How often expired approvals are recorded")] = 30.0,
    keep_days: Annotated[
        float, typer.Option(min=3, help="Days a dispatched delivery is remembered (GitHub redelivers up to 3 days)")
    ] = KEEP_DAYS,
) -> None:
    """Serve POST /github (deliveries) and GET /health; every accepted delivery becomes exactly one flow run."""
    import uvicorn

    from deployments.webhook_relay import create_app, spool_path
    from shipyard.home import Zone
    from shipyard.resources import opened
    from shipyard.webhook_spool import Spool

    secret = os.environ.get(secret_env)
    if not secret:
        fail(f"${secret_env} is not set: deliveries cannot be verified", EXIT_BAD_INPUT)
    from shipyard.config import load_config

    pipeline = guard(lambda: load_config(config))
    if pipeline.github is None:
        fail(f"{config}: github.repository is not set: the relay serves that repository's deliveries", EXIT_BAD_INPUT)
    spool = Spool(spool_path(Home.from_env().root), keep_days)
    serves = pipeline.github.repository
    out.print(f"webhook relay for {serves} on http://{host}:{port}/github (health: /health, approval codes: "
              "/approvals/code)", highlight=False)  # fmt: skip
    with opened(zone=Zone.PROTECTED) as resources:  # the ledger holds the policy the codes are checked against
        relay = create_app(pipeline, secret.encode(), spool, watch_interval=watch_seconds, ledger=resources.ledger)
        uvicorn.run(relay, host=host, port=port, log_level="warning")
