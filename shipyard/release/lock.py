"""Holding the lock on an environment's app for the length of a release, a rollback or an operator command: taken
from the ledger (so it holds across processes and machines), renewed by its holder on every pass, released at the
end however the block ends."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shipyard.ledger import Ledger
from shipyard.ledger.leases import Lease, Leases, LockHeld

LEASE_SECONDS = 15.0  # a holder that stops renewing (killed, stopped, cut off) blocks the app for at most this long


@dataclass
class Hold:
    """The lease a holder writes with (its fencing token) and renews on every pass."""

    leases: Leases
    lease: Lease
    seconds: float

    def renew(self) -> None:
        self.lease = self.leases.renew(self.lease, self.seconds)


def holder_name(actor: str) -> str:
    """Who holds a lock, for the person it keeps waiting: the actor and where it runs."""
    return f"{actor} on {socket.gethostname()} (pid {os.getpid()})"


@contextmanager
def holding(
    ledger: Ledger, environment: str, app: str, actor: str, purpose: str, wait: float = 0.0,
    seconds: float = LEASE_SECONDS,
) -> Iterator[Hold]:  # fmt: skip
    """The lock, waiting up to `wait` seconds for the holder before it (LockHeld names who, when it will not)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            lease = ledger.leases.acquire(environment, app, holder_name(actor), purpose, seconds)
            break
        except LockHeld:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(1.0, left))
    hold = Hold(ledger.leases, lease, seconds)
    try:
        yield hold
    finally:
        ledger.leases.release(hold.lease)
