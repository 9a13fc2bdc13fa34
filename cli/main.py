"""The `shipyard` command: every area's commands on one app. Exit codes: 0 passed, 1 checks failed, 2 bad input,
3 could not run."""

from __future__ import annotations

from cli import approvals, checks, config, images, policy, release, rollout, sample, server, webhook
from cli.app import app

__all__ = ["app", "main"]  # the app with every command on it (cli.app's alone has none)

app.command("approve")(approvals.approve)
app.command("deploy")(release.deploy)
app.command("rollback")(release.rollback)
app.command("status")(release.status)
app.add_typer(approvals.commands, name="approvals")
app.add_typer(policy.commands, name="policy")
app.add_typer(rollout.commands, name="rollout")
app.add_typer(checks.commands, name="run")
app.add_typer(config.commands, name="config")
app.add_typer(sample.commands, name="sample")
app.add_typer(server.commands, name="server")
app.add_typer(images.commands, name="images")
app.add_typer(webhook.commands, name="webhook")
app.add_typer(server.demo_commands, name="demo")


def main() -> None:
    from shipyard.processes import restore_default_signals

    restore_default_signals()  # a background start must not leave this process and its children deaf to SIGTERM
    app()
