"""`shipyard config check` and `shipyard config reference`: the pipeline config (shipyard.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import EXIT_BAD_INPUT, err, group, out

commands = group("Pipeline configuration (shipyard.yaml).")


@commands.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="Path to shipyard.yaml")]) -> None:
    """Validate a pipeline config; every problem names the file, line and key."""
    from shipyard.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    checks = sum(len(a.checks) * len(a.versions) for a in config.apps.values())
    out.print(f"{path}: valid ({len(config.apps)} apps, {checks} checks per commit, {len(config.environments)} envs)")


@commands.command("reference")
def config_reference() -> None:
    """Print the configuration reference (markdown) generated from the schema."""
    from shipyard.config.reference import reference_markdown

    print(reference_markdown())
