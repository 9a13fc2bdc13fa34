"""The policy in force: the ledger's latest version, parsed; and a new version applied from a file."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.config.load import parse_model
from shipyard.ledger import Ledger
from shipyard.policy.model import Policy, PolicyRefused


@dataclass(frozen=True)
class InForce:
    policy: Policy
    version: int


def in_force(ledger: Ledger) -> InForce:
    recorded = ledger.policy()
    if recorded is None:
        raise PolicyRefused(
            "no policy in the ledger: an operator sets what each environment is and who approves with "
            "`shipyard policy apply FILE --as NAME --reason TEXT` (docs/approvals.md)"
        )
    return InForce(Policy.model_validate(recorded.document), recorded.version)


def apply(ledger: Ledger, text: str, source: str, actor: str, reason: str) -> int:
    """Validate the file (every problem named with its line), then record it as the next version; returns the
    version in force (unchanged when the file says what the policy already says)."""
    policy, _ = parse_model(text, source, Policy)
    return ledger.set_policy(policy.model_dump(mode="json", exclude_defaults=True), actor, reason).version
