"""The lock per environment and app: one holder at a time across processes, a fencing token that refuses a stale
holder's writes, on SQLite and PostgreSQL (the folder's `ledger` fixture runs each test on both)."""

from __future__ import annotations

import threading
import time

import pytest

from shipyard.ledger import EventKind, Ledger
from shipyard.ledger.leases import LeaseLost, LockHeld


def test_one_holder_at_a_time_and_the_next_one_gets_a_new_token(ledger: Ledger) -> None:
    first = ledger.leases.acquire("production", "api", "deploy run 1", "release 1.2", 30)
    with pytest.raises(LockHeld) as held:
        ledger.leases.acquire("production", "api", "carol (cli)", "rollback", 30)
    assert str(held.value).startswith("api in production is locked by deploy run 1 (release 1.2) until ")
    assert ledger.leases.acquire("production", "web", "carol (cli)", "rollback", 30).token == 1  # another app
    ledger.leases.release(first)
    assert ledger.leases.holder("production", "api") is None
    second = ledger.leases.acquire("production", "api", "carol (cli)", "rollback", 30)
    assert (first.token, second.token) == (1, 2)
    assert ledger.leases.holder("production", "api") == second


def test_a_holder_whose_lease_ran_out_and_was_taken_can_neither_renew_nor_write(ledger: Ledger) -> None:
    stale = ledger.leases.acquire("production", "api", "engine A", "release 2", 0.2)
    release = ledger.start_release("production", "api", "2.0", "a" * 40, "/r/2", "green", "engine A", fence=stale)
    time.sleep(0.3)
    taker = ledger.leases.acquire("production", "api", "engine B", "finish release 2", 30)
    with pytest.raises(LeaseLost, match="no longer engine A's"):
        ledger.leases.renew(stale, 30)
    with pytest.raises(LeaseLost):
        ledger.record(release.id, EventKind.SHIFTED, "engine A", "stale shift", weight=50, fence=stale)
    ledger.leases.release(stale)  # frees nothing: the lock is B's
    assert ledger.leases.holder("production", "api") == taker
    ledger.record(release.id, EventKind.SHIFTED, "engine B", "rolled back", weight=0, fence=taker)
    assert [(e.actor, e.weight) for e in ledger.events(release.id) if e.kind is EventKind.SHIFTED] == [("engine B", 0)]


def test_a_holder_renews_before_its_lease_runs_out_and_keeps_the_lock(ledger: Ledger) -> None:
    lease = ledger.leases.acquire("production", "api", "engine A", "release 3", 0.3)
    for _ in range(3):
        time.sleep(0.15)
        lease = ledger.leases.renew(lease, 0.3)
    with pytest.raises(LockHeld):
        ledger.leases.acquire("production", "api", "engine B", "release 4", 30)
    assert lease.token == 1


def test_of_many_at_once_exactly_one_takes_the_lock(ledger: Ledger) -> None:
    ledger.leases.acquire("staging", "api", "warm-up", "make the row", 0.01)
    time.sleep(0.05)
    barrier, won, refused = threading.Barrier(6), [], []

    def contend(name: str) -> None:
        barrier.wait()
        try:
            won.append(ledger.leases.acquire("staging", "api", name, "race", 30))
        except LockHeld:
            refused.append(name)

    threads = [threading.Thread(target=contend, args=(f"holder {i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 5 and won[0].token == 2
