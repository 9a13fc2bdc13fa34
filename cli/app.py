"""What every command shares: the typer app, the exit codes, the consoles, and errors mapped to exit codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from shipyard.errors import InputError, ShipyardError

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3
EXIT_TERMINATED = 128 + 15  # stopped by SIGTERM, as a shell reports it

app = typer.Typer(help="Shipyard: CI/CD as Prefect flows.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _group() -> None:
    return None  # keeps `shipyard` a group when a call registers one command (cli.main); the help is the app's


# Wide when piped (CI logs, tests) so table rows and URLs are not folded.
out = Console(width=None if Console().is_terminal else 200)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 200)

T = TypeVar("T")


def group(help: str) -> typer.Typer:
    """A command group (`shipyard config ...`); `cli.main` adds it to the app under its name."""
    return typer.Typer(help=help, no_args_is_help=True)


def exit_for(error: object) -> NoReturn:
    """Bad input (config, arguments) exits 2 with the reason; anything else could not run: 3."""
    from shipyard.config import ConfigError  # here: every command would pay for the config models at start

    if isinstance(error, ConfigError):
        for line in error.lines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if isinstance(error, InputError):
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    err.print(f"error: could not run: {error}", markup=False, highlight=False)
    raise typer.Exit(EXIT_ERROR)


def fail(message: str, code: int) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def guard(action: Callable[[], T]) -> T:
    """Run the action; a Shipyard error becomes one line on stderr and its exit code, never a traceback."""
    try:
        return action()
    except ShipyardError as exc:
        exit_for(exc)
