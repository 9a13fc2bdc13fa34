"""The `shipyard` command: every area's commands on one app. Exit codes: 0 passed, 1 checks failed, 2 bad input,
3 could not run.

A call loads only the area its first word names (`shipyard rollback` never imports the scanners, the webhook relay
or the config schema): an emergency rollback is timed from the keypress."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from cli.app import app

if TYPE_CHECKING:
    import typer

__all__ = ["main", "with_commands"]

# command name -> (module, attribute): a function is one command, a typer.Typer a group of them
COMMANDS: dict[str, tuple[str, str]] = {
    "approve": ("cli.approvals", "approve"),
    "deploy": ("cli.release", "deploy"),
    "rollback": ("cli.release", "rollback"),
    "status": ("cli.release", "status"),
    "approvals": ("cli.approvals", "commands"),
    "policy": ("cli.policy", "commands"),
    "rollout": ("cli.rollout", "commands"),
    "run": ("cli.checks", "commands"),
    "config": ("cli.config", "commands"),
    "sample": ("cli.sample", "commands"),
    "server": ("cli.server", "commands"),
    "images": ("cli.images", "commands"),
    "webhook": ("cli.webhook", "commands"),
    "demo": ("cli.server", "demo_commands"),
}
_added: set[str] = set()


def with_commands(names: list[str] | None = None) -> typer.Typer:
    """The app with the named commands added (all when None). `shipyard --help` lists commands in the order they
    were added: COMMANDS' order when every command is added in one call, as `main` does for --help."""
    import typer

    for name, (module, attribute) in COMMANDS.items():
        if (names is not None and name not in names) or name in _added:
            continue
        _added.add(name)
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def main() -> None:
    from shipyard.processes import restore_default_signals

    restore_default_signals()  # a background start must not leave this process and its children deaf to SIGTERM
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    with_commands([first] if first in COMMANDS else None)()  # --help, typos and completion see every command
