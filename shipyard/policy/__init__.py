"""What an environment is, held on the Shipyard side (in the ledger), never in the repository being deployed."""

from shipyard.policy.model import Approver, EnvironmentPolicy, Policy

__all__ = ["Approver", "EnvironmentPolicy", "Policy"]
