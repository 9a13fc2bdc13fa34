"""`shipyard policy`: what each environment is and who approves, held in the ledger outside any repository; every
change a new version with who and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from cli.app import group, guard, out
from shipyard.errors import InputError

commands = group("The policy: environments, approvers and their keys, branches (kept in the ledger, versioned).")


@commands.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML); docs/approvals.md shows one")],
    actor: Annotated[str, typer.Option("--as", help="Who makes this change (recorded)")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
) -> None:
    """Validate the file and record it as the next version of the policy (unchanged when it says the same)."""
    from shipyard.policy.current import apply as apply_policy
    from shipyard.resources import opened

    def applied() -> int:
        try:
            text = file.read_text()
        except OSError as exc:
            raise InputError(f"{file}: cannot read the file: {exc.strerror}") from None
        with opened() as resources:
            return apply_policy(resources.ledger, text, str(file), actor, reason)

    version = guard(applied)
    out.print(f"policy version {version} in force", highlight=False)


@commands.command("show")
def show() -> None:
    """The policy in force, as YAML, with its version."""
    from shipyard.policy.current import in_force
    from shipyard.resources import opened

    def shown() -> str:
        with opened() as resources:
            current = in_force(resources.ledger)
        document = current.policy.model_dump(mode="json", exclude_defaults=True)
        return f"# policy version {current.version}\n" + yaml.safe_dump(document, sort_keys=False)

    out.print(guard(shown), highlight=False, markup=False, end="")


@commands.command("history")
def history() -> None:
    """Every version: when, who, why."""
    from shipyard.resources import opened

    with opened() as resources:
        versions = resources.ledger.policy_history()
    for v in versions:
        out.print(f"{v.version}  {v.at:%Y-%m-%d %H:%M}  {v.actor}  {v.digest[:19]}  {v.reason}", highlight=False,
                  markup=False)  # fmt: skip


@commands.command("draft")
def draft(
    repository: Annotated[str, typer.Option(help="The repository's clone URL, as its webhook deliveries name it")],
    config: Annotated[Path, typer.Option(help="The repository's shipyard.yaml to start from")] = Path("shipyard.yaml"),
) -> None:
    """Print a first policy from a shipyard.yaml (its environments, the branches its rules deploy from, its
    approvers with placeholder keys to replace), to review and then `shipyard policy apply`."""
    from shipyard.config import load_config
    from shipyard.policy.draft import draft as drafted

    document = drafted(guard(lambda: load_config(config)), repository)
    out.print(yaml.safe_dump(document, sort_keys=False), highlight=False, markup=False, end="")
