"""The relay's durable queue: a delivery is on disk (synced) before GitHub hears 202, so none is lost to a crash or
a power cut, and a redelivery (same X-GitHub-Delivery) is recognised here before anything else happens."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError

DAY = 86400.0
KEEP_DAYS = 7.0  # GitHub redelivers a delivery of the past 3 days (by hand or API): it must still be recognised

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery TEXT PRIMARY KEY,
    deployment TEXT NOT NULL,
    parameters TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    received REAL NOT NULL,
    flow_run TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT
)
"""


class SpoolUnavailable(ShipyardError):
    """The spool could not record a delivery (disk full, read-only, locked): it must not be acknowledged."""


@dataclass(frozen=True)
class Received:
    """A delivery as the relay records it."""

    delivery: str
    deployment: str
    parameters: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class Pending(Received):
    """A recorded delivery not dispatched yet, and how often dispatching it has failed."""

    attempts: int


class Spool:
    def __init__(self, path: Path, keep_days: float = KEEP_DAYS) -> None:
        self.path = path
        self.keep_days = keep_days
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # WAL with NORMAL may lose the last commits to a power cut
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()

    def add(self, delivery: str, deployment: str, parameters: dict[str, Any], key: str) -> bool:
        """False when this delivery was already received (GitHub redelivers on timeouts and by hand). Raises
        SpoolUnavailable when it cannot be recorded."""
        return self.add_all([Received(delivery, deployment, parameters, key)])[0]

    def add_all(self, deliveries: list[Received]) -> list[bool]:
        """Record several in one transaction, so one sync to disk covers them all (group commit): all of them are
        on disk when this returns, or none is and SpoolUnavailable is raised."""
        now = time.time()
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    added = [
                        self._db.execute(
                            "INSERT OR IGNORE INTO deliveries (delivery, deployment, parameters, idempotency_key, "
                            "received) VALUES (?, ?, ?, ?, ?)",
                            (d.delivery, d.deployment, json.dumps(d.parameters), d.idempotency_key, now),
                        ).rowcount
                        == 1
                        for d in deliveries
                    ]
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already (a full disk does)
                        self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise SpoolUnavailable(f"the webhook spool {self.path} cannot record a delivery: {exc}") from None
        return added

    def prune(self) -> int:
        """Forget deliveries dispatched more than keep_days ago; one still waiting for dispatch is kept."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM deliveries WHERE flow_run IS NOT NULL AND received < ?",
                (time.time() - self.keep_days * DAY,),
            )
        return cursor.rowcount

    def due(self, limit: int = 50) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT delivery, deployment, parameters, idempotency_key, attempts FROM deliveries "
                "WHERE flow_run IS NULL AND next_attempt <= ? ORDER BY received LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        return [Pending(d, dep, json.loads(p), k, a) for d, dep, p, k, a in rows]

    def dispatched(self, delivery: str, flow_run: str) -> None:
        with self._lock:
            self._db.execute("UPDATE deliveries SET flow_run = ? WHERE delivery = ?", (flow_run, delivery))

    def failed(self, delivery: str, error: str, retry_in: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE delivery = ?",
                (error[:500], time.time() + retry_in, delivery),
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            total, waiting = self._db.execute("SELECT COUNT(*), COUNT(*) - COUNT(flow_run) FROM deliveries").fetchone()
        return {"received": int(total), "waiting": int(waiting)}

    def flow_run_of(self, delivery: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT flow_run FROM deliveries WHERE delivery = ?", (delivery,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def close(self) -> None:
        self._db.close()
