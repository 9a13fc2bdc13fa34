"""The release ledger: every state change of every release, append-only, with who and why."""

from shipyard.ledger.store import (
    Asked,
    CodeUse,
    DecisionKind,
    DecisionView,
    EventKind,
    Ledger,
    PolicyVersion,
    ReleaseView,
)

__all__ = ["Asked", "CodeUse", "DecisionKind", "DecisionView", "EventKind", "Ledger", "PolicyVersion", "ReleaseView"]
