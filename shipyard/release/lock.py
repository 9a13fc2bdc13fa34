"""Holding the lock on an environment's app for the length of a release, a rollback or an operator command: taken
from the ledger (so it holds across processes and machines), renewed by its holder on every pass, released at the
end however the block ends."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shipyard.ledger import Ledger
from shipyard.ledger.leases import Lease, Leases, LockHeld

LEASE_SECONDS = 15.0  # a holder that stops renewing (killed, stopped, cut off) blocks the app for at most this long


@dataclass
class Hold:
    """The lease a holder writes with (its fencing token) and renews on every pass."""

    leases: Leases
    lease: Lease
    seconds: float
    renewed_at: float = field(default_factory=time.monotonic)  # taken before asking: the lease lasts at least that

    def renew(self) -> None:
        asked = time.monotonic()
        self.lease = self.leases.renew(self.lease, self.seconds)
        self.renewed_at = asked

    def surely_held(self, margin: float = 2.0) -> bool:
        """Still this holder's by its own clock, when the ledger cannot say (it is down): no other holder could have
        taken a lease that has not run out."""
        return time.monotonic() - self.renewed_at < self.seconds - margin


def holder_name(actor: str) -> str:
    """Who holds a lock, for the person it keeps waiting: the actor and where it runs."""
    return f"{actor} on {socket.gethostname()} (pid {os.getpid()})"


@contextmanager
def holding(
    ledger: Ledger, environment: str, app: str, actor: str, purpose: str, wait: float = 0.0,
    seconds: float = LEASE_SECONDS, every: float = 1.0, while_held: Callable[[Lease], None] = lambda held: None,
) -> Iterator[Hold]:  # fmt: skip
    """The lock, trying every `every` seconds for up to `wait` (LockHeld names who, when it will not), calling
    while_held with the holder between tries."""
    deadline = time.monotonic() + wait
    while True:
        asked = time.monotonic()
        try:
            lease = ledger.leases.acquire(environment, app, holder_name(actor), purpose, seconds)
            break
        except LockHeld as held:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            while_held(held.held)
            time.sleep(min(every, left))
    hold = Hold(ledger.leases, lease, seconds, asked)
    try:
        yield hold
    finally:
        ledger.leases.release(hold.lease)
