"""`shipyard rollout abort|promote|pause|resume|retry|abandon ENV --app APP`: an operator's control of a release in
progress. Signed with your SSH key when a policy is in force (verified against the environment's approvers) and
recorded in the ledger with who and why; the release's engine honours it within a pass, or, when no engine runs the
release any more, the command runs it to its end itself. `shipyard rollout sign` prints a signed command for the
rollout-command and rollback deployments (the Prefect UI)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import EXIT_FAILED, EXIT_PASSED, group, guard, out
from cli.approvals import ActorOption, KeyOption, signer
from cli.release import engine_for
from shipyard.release.rollout import Command

if TYPE_CHECKING:
    from shipyard.release.signed import SignedCommand

commands = group("Control a release in progress: abort, promote, pause, resume, retry, abandon.")

Environment = Annotated[str, typer.Argument(help="Environment")]
App = Annotated[str, typer.Option("--app", help="App")]
Reason = Annotated[str, typer.Option(help="Why (recorded)")]
Config = Annotated[Path, typer.Option(help="Pipeline config")]
Target = Annotated[str | None, typer.Option(help="Which of the environment's targets, by backend")]


@commands.command("abort")
def abort(environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
          config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Roll the release in progress back now (or the one just promoted, while the old colour is kept warm)."""
    _carry_out(environment, app, Command.ABORT.value, reason, key, actor, config, target)


@commands.command("promote")
def promote(
    environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
    full: Annotated[bool, typer.Option("--full", help="Skip the analysis too (recorded as such)")] = False,
    config: Config = Path("shipyard.yaml"), target: Target = None,
) -> None:  # fmt: skip
    """Skip the remaining traffic steps once the current analysis passes (--full: now)."""
    command = Command.PROMOTE_FULL if full else Command.PROMOTE
    _carry_out(environment, app, command.value, reason, key, actor, config, target)


@commands.command("pause")
def pause(environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
          config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Hold the current weight until resumed (a failing analysis still rolls back)."""
    _carry_out(environment, app, Command.PAUSE.value, reason, key, actor, config, target)


@commands.command("resume")
def resume(environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
           config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Go on after a pause (or run a release whose engine is gone to its end)."""
    _carry_out(environment, app, Command.RESUME.value, reason, key, actor, config, target)


@commands.command("retry")
def retry(environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
          config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Release the last, rolled-back release's artifact again, as a new release."""
    _carry_out(environment, app, "retry", reason, key, actor, config, target)


@commands.command("abandon")
def abandon(environment: Environment, app: App, reason: Reason, key: KeyOption, actor: ActorOption = None,
            config: Config = Path("shipyard.yaml"), target: Target = None) -> None:  # fmt: skip
    """Close a release whose run or command died: the previous release back at 100%, nothing deployed again."""
    _carry_out(environment, app, "abandon", reason, key, actor, config, target)


@commands.command("sign")
def sign(
    command: Annotated[str, typer.Argument(help="A rollout command (abort, promote, ...) or rollback")],
    environment: Environment, app: App, reason: Reason, key: KeyOption,
    to: Annotated[str | None, typer.Option(help="rollback: the version to restore")] = None,
) -> None:  # fmt: skip
    """Print a signed command (JSON) for the `signed` parameter of the rollout-command or rollback deployment, for
    the release it acts on now (read from the ledger); it is honoured once, within 5 minutes, and only while that
    release is still the one it acts on."""
    from shipyard.release.progress import subject_of
    from shipyard.release.signed import sign_command
    from shipyard.resources import opened

    def signed_now() -> SignedCommand:
        with opened() as resources:
            subject = subject_of(resources.ledger, environment, app, command)
        return sign_command(environment, app, command, reason, key, to, release=subject)

    signed = guard(signed_now)
    out.print(json.dumps(asdict(signed), indent=2), highlight=False, markup=False, soft_wrap=True)


def _carry_out(environment: str, app: str, command: str, reason: str, key: Path, actor: str | None, config: Path,
               target: str | None) -> None:  # fmt: skip
    from shipyard.release import control

    def carried_out() -> bool:
        with engine_for(config, environment, app, target) as (ledger, engine, recorded):
            who = signer(ledger, environment, recorded, app, command, reason, key, actor)
            done = control.carry_out(ledger, engine, recorded, app, command, who, reason)
        out.print(done.message(), highlight=False, markup=False)
        return done.outcome is None or done.outcome.succeeded or command in (Command.ABORT, "abandon")

    raise typer.Exit(EXIT_PASSED if guard(carried_out) else EXIT_FAILED)
