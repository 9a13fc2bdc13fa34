"""`shipyard sample create`: the bundled sample platform as a new git repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import group, guard, out

commands = group("The bundled sample platform.")


@commands.command("create")
def sample_create(
    dest: Annotated[Path, typer.Argument(help="Empty folder for the new repository")],
    variant: Annotated[str | None, typer.Option(help="Overlay that breaks the sample on purpose")] = None,
) -> None:
    """Commit the sample platform into a new git repository and print the commit SHA."""
    from shipyard.sample import create_sample_repo

    guard(lambda: out.print(create_sample_repo(dest, variant)))
