from collections.abc import Iterator

import pytest

from shipyard.ledger import Ledger


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    """A migrated ledger on a fresh database, once on SQLite and once on PostgreSQL."""
    ledger = Ledger(database_url)
    ledger.migrate()
    yield ledger
    ledger.close()
