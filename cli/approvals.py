"""`shipyard approve` (answer a deploy's approval gate, signed with your SSH key) and `shipyard approvals` (a
one-time code for the UI form; record the expired approvals)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import EXIT_BAD_INPUT, fail, group, guard, out
from shipyard.errors import InputError

if TYPE_CHECKING:
    from shipyard.ledger import Ledger

commands = group("Approvals: one-time codes for the Prefect UI form, expired approvals.")


def _default_key() -> Path:
    return Path(os.environ.get("SHIPYARD_APPROVAL_KEY") or Path.home() / ".ssh" / "id_ed25519")


KeyOption = Annotated[
    Path,
    typer.Option(
        "--key",
        default_factory=_default_key,
        help="Your SSH private key, or its .pub with the private half in ssh-agent (default $SHIPYARD_APPROVAL_KEY, "
        "else ~/.ssh/id_ed25519); the policy lists its public half",
        show_default=False,
    ),
]


ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who (recorded); only while no policy is in force, else --key signs")
]


def signer(
    ledger: Ledger, environment: str, recorded: str, app: str, command: str, reason: str, key: Path,
    actor: str | None, to_version: str | None = None,
) -> str:  # fmt: skip
    """Who gives a release command: with a policy in force, the approver whose key signs it (verified as the
    rollout-command deployment verifies it, for the release it acts on in `recorded`, the ledger's name of the
    environment's target); without one (a machine of your own), the name given with --as."""
    if ledger.policy() is None:
        if not actor:
            raise InputError("--as: who gives the command (recorded); with a policy in force, --key signs it instead")
        return actor
    from shipyard.policy.current import in_force
    from shipyard.release.progress import subject_of
    from shipyard.release.signed import sign_command, signer_of

    if actor:
        raise InputError(f"--as: a policy is in force: the {command} is signed with --key and its signer recorded")
    subject = subject_of(ledger, recorded, app, command)
    signed = sign_command(environment, app, command, reason, key, to_version, release=subject)
    return signer_of(ledger, in_force(ledger).policy, signed, environment, app, command, release=subject)


def approve(
    run_id: Annotated[str, typer.Argument(help="Flow run id of the suspended deploy (printed by the run and Slack)")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    key: KeyOption,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving")] = False,
    ticket: Annotated[str | None, typer.Option(help="Change ticket")] = None,
    steps: Annotated[str | None, typer.Option(help="A different traffic plan, e.g. 5,25,100")] = None,
) -> None:
    """Answer a deploy's approval gate from a terminal: the answer (run, decision, what ships, reason, plan) is
    signed with your SSH key and the run verifies it against the policy's approvers."""
    from deployments.approvals import answer

    plan = guard(lambda: _steps(steps))
    guard(lambda: answer(run_id, reject, key, reason, ticket, plan))
    word = "rejection" if reject else "approval"
    out.print(f"signed {word} sent to flow run {run_id}; it resumes, verifies it and records the decision",
              highlight=False)  # fmt: skip


@commands.command("code")
def code(
    run_id: Annotated[str, typer.Argument(help="Flow run id of the suspended deploy")],
    reason: Annotated[str, typer.Option(help="Why; type the same in the form")],
    key: KeyOption,
    reject: Annotated[bool, typer.Option("--reject", help="The code is for a rejection")] = False,
    ticket: Annotated[str | None, typer.Option(help="Change ticket; the same in the form")] = None,
    steps: Annotated[
        str | None, typer.Option(help="A different traffic plan, e.g. 5,25,100; the same in the form")
    ] = None,
    relay: Annotated[
        str | None, typer.Option(help="The Shipyard relay that holds the policy (default $SHIPYARD_RELAY_URL)")
    ] = None,
    here: Annotated[
        bool, typer.Option("--here", help="No relay: issue it from the ledger this machine shares with the workers")
    ] = False,
) -> None:
    """A one-time code for this run's approval form in the Prefect UI, for exactly this answer: the request is
    signed with your SSH key, and the code works once, for this run, you and this answer, for the policy's minutes."""
    from deployments.approval_codes import request_code
    from shipyard.pipeline.approval_codes import answer_of

    where = None if here else relay or os.environ.get("SHIPYARD_RELAY_URL")
    if not here and where is None:
        fail("say where codes are issued: --relay URL (or $SHIPYARD_RELAY_URL), or --here on the machine that holds "
             "the ledger", EXIT_BAD_INPUT)  # fmt: skip
    plan = guard(lambda: _steps(steps))
    answer = answer_of("reject" if reject else "approve", reason, ticket, plan)
    issued = guard(lambda: request_code(where, run_id, key, answer))
    fields = [f"Decision: {answer['decision']}", f"Approver: {issued.approver}", f"Reason: {answer['reason']}"]
    fields += [f"Change Ticket: {ticket}"] * bool(answer["ticket"]) + [f"Traffic Steps: {plan}"] * bool(plan)
    out.print(f"one-time code for {issued.approver} on flow run {run_id}, until {issued.expires_at:%H:%M:%S} UTC; "
              f"in the form, exactly: {'; '.join(fields)}; Code:", highlight=False, markup=False)  # fmt: skip
    out.print(issued.code, highlight=False, markup=False)


@commands.command("sweep")
def sweep(
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
) -> None:
    """Record approvals nobody gave in time as expired (the relay does this every 30 s)."""
    from deployments.approvals import sweep_once
    from shipyard.config import load_config

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
