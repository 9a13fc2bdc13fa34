"""The release ledger: every state change of every release, append-only, with who and why."""

from shipyard.ledger.store import Asked, DecisionKind, DecisionView, EventKind, Ledger, ReleaseView

__all__ = ["Asked", "DecisionKind", "DecisionView", "EventKind", "Ledger", "ReleaseView"]
