"""What a flow run or a CLI call works with, built once at its entry, passed down, and closed at its end (Dagster's
resources are the model): this machine's Shipyard home and the release ledger, migrated."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shipyard.home import Home, Zone
from shipyard.ledger import Ledger


@dataclass(frozen=True)
class Resources:
    home: Home
    ledger: Ledger


def ledger_url(home: Home) -> str:
    """SHIPYARD_LEDGER_URL (PostgreSQL in production), else a SQLite file in the home."""
    return os.environ.get("SHIPYARD_LEDGER_URL") or f"sqlite:///{home.root / 'ledger.db'}"


@contextmanager
def opened(home: Home | None = None, zone: Zone = Zone.UNTRUSTED) -> Iterator[Resources]:
    """The one place the ledger is built; its connections are disposed however the block ends."""
    home = home or Home.from_env(zone)
    ledger = Ledger(ledger_url(home))
    try:
        ledger.migrate()
        yield Resources(home, ledger)
    finally:
        ledger.close()
