"""`shipyard rollout abort|promote|pause|resume|retry|abandon ENV --app APP`: an operator's control of a release in
progress. Recorded in the ledger with who and why; the release's engine honours it within a pass, or, when no
engine runs the release any more, the command runs it to its end itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import EXIT_FAILED, EXIT_PASSED, group, guard, out
from cli.release import engine_for
from shipyard.errors import InputError
from shipyard.release.rollout import Command

commands = group("Control a release in progress: abort, promote, pause, resume, retry, abandon.")

Environment = Annotated[str, typer.Argument(help="Environment")]
App = Annotated[str, typer.Option("--app", help="App")]
Actor = Annotated[str, typer.Option("--as", help="Who (recorded)")]
Reason = Annotated[str, typer.Option(help="Why (recorded)")]
Config = Annotated[Path, typer.Option(help="Pipeline config")]
Target = Annotated[str | None, typer.Option(help="Which of the environment's targets, by backend")]


@commands.command("abort")
def abort(environment: Environment, app: App, actor: Actor, reason: Reason, config: Config = Path("shipyard.yaml"),
          target: Target = None) -> None:  # fmt: skip
    """Roll the release in progress back now."""
    _order(environment, app, Command.ABORT, actor, reason, config, target)


@commands.command("promote")
def promote(
    environment: Environment, app: App, actor: Actor, reason: Reason,
    full: Annotated[bool, typer.Option("--full", help="Skip the analysis too (recorded as such)")] = False,
    config: Config = Path("shipyard.yaml"), target: Target = None,
) -> None:  # fmt: skip
    """Skip the remaining traffic steps once the current analysis passes (--full: now)."""
    _order(environment, app, Command.PROMOTE_FULL if full else Command.PROMOTE, actor, reason, config, target)


@commands.command("pause")
def pause(environment: Environment, app: App, actor: Actor, reason: Reason, config: Config = Path("shipyard.yaml"),
          target: Target = None) -> None:  # fmt: skip
    """Hold the current weight until resumed (a failing analysis still rolls back)."""
    _order(environment, app, Command.PAUSE, actor, reason, config, target)


@commands.command("resume")
def resume(environment: Environment, app: App, actor: Actor, reason: Reason, config: Config = Path("shipyard.yaml"),
           target: Target = None) -> None:  # fmt: skip
    """Go on after a pause (or run a release whose engine is gone to its end)."""
    _order(environment, app, Command.RESUME, actor, reason, config, target)


@commands.command("retry")
def retry(environment: Environment, app: App, actor: Actor, reason: Reason, config: Config = Path("shipyard.yaml"),
          target: Target = None) -> None:  # fmt: skip
    """Release the last, rolled-back release's artifact again, as a new release."""
    from shipyard.release import control

    def retried() -> bool:
        with engine_for(config, environment, app, target) as (ledger, engine, recorded):
            outcome = control.retry(ledger, engine, recorded, app, actor, reason)
        out.print(f"{app} {outcome.release.version}: {outcome.reason}", highlight=False, markup=False)
        return outcome.succeeded

    raise typer.Exit(EXIT_PASSED if guard(retried) else EXIT_FAILED)


@commands.command("abandon")
def abandon(environment: Environment, app: App, actor: Actor, reason: Reason,
            config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Close a release whose run or command died: the previous release back at 100%, nothing deployed again."""
    from shipyard.release import control

    def abandoned() -> None:
        with engine_for(config, environment, app, target) as (ledger, engine, recorded):
            outcome = control.abandon(ledger, engine, recorded, app, actor, reason)
        out.print(f"{app} {outcome.release.version} abandoned: {outcome.reason}", highlight=False, markup=False)

    guard(abandoned)


def _order(environment: str, app: str, command: Command, actor: str, reason: str, config: Path,
           target: str | None) -> None:  # fmt: skip
    from shipyard.release import control

    def ordered() -> None:
        with engine_for(config, environment, app, target) as (ledger, engine, recorded):
            release = control.in_progress(ledger, recorded, app)
            if release is None:
                raise InputError(f"no release of {app} is in progress in {environment}: nothing to {command.value}")
            done, outcome = control.order(ledger, engine, release, command, actor, reason)
        name = f"{app} {done.release.version}"
        if done.holder is not None:
            out.print(f"{command.value} recorded for {name}; its engine ({done.holder.holder}) honours it within a "
                      "second", highlight=False, markup=False)  # fmt: skip
        elif outcome is None:
            out.print(f"{command.value} recorded for {name}; no engine runs it now", highlight=False, markup=False)
        else:
            word = "promoted" if outcome.succeeded else "rolled back"
            out.print(f"{name}: no engine ran it, so this command did: {word}: {outcome.reason}",
                      highlight=False, markup=False)  # fmt: skip

    guard(ordered)
