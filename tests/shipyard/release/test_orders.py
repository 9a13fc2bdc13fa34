"""What operators asked of a release, as the engine reads it from the ledger on every pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipyard.ledger.store import EventKind, EventView
from shipyard.release.engine import Orders
from shipyard.release.rollout import Promote

AT = datetime(2026, 12, 2, tzinfo=UTC)


def said(*commands: tuple[str, str]) -> list[EventView]:
    events = [EventView(1, 7, EventKind.SHIFTED, 10, "engine", "shift", {}, AT)]
    for i, (command, actor) in enumerate(commands, 2):
        events.append(EventView(i, 7, EventKind.COMMAND, None, actor, f"{command} please", {"command": command}, AT))
    return events


@pytest.mark.parametrize(
    ("commands", "orders"),
    [
        ((), Orders()),
        ((("pause", "carol"),), Orders(paused="paused by carol: pause please")),
        ((("pause", "carol"), ("resume", "dan")), Orders()),
        ((("pause", "carol"), ("resume", "dan"), ("pause", "erin")), Orders(paused="paused by erin: pause please")),
        ((("promote", "carol"),), Orders(promote=Promote.AFTER_ANALYSIS)),
        ((("promote", "carol"), ("promote-full", "dan")), Orders(promote=Promote.FULL)),
        ((("promote-full", "dan"), ("promote", "carol")), Orders(promote=Promote.FULL)),  # --full once asked stands
        ((("promote-full", "dan"), ("abort", "carol")),
         Orders(abort="aborted by carol: abort please", promote=Promote.FULL)),  # decide(): the abort wins
        ((("pause", "carol"), ("abort", "dan")),
         Orders(abort="aborted by dan: abort please", paused="paused by carol: pause please")),
    ],
)  # fmt: skip
def test_orders(commands: tuple[tuple[str, str], ...], orders: Orders) -> None:
    assert Orders.of(said(*commands)) == orders


def asked_of(holder: int) -> EventView:
    details = {"command": "abort", "holder": holder}
    return EventView(9, 7, EventKind.COMMAND, None, "oncall", "emergency rollback: 5xx", details, AT)


@pytest.mark.parametrize(
    ("token", "aborted"),
    [
        (4, True),  # the engine the rollback asked
        (5, False),  # an engine that took the release over after that one died: the rollback handles it, not this
        (None, True),  # read without a lock (status): the ask is shown
    ],
)
def test_an_abort_asked_of_a_lock_holder_is_for_that_holder_only(token: int | None, aborted: bool) -> None:
    orders = Orders.of([*said(), asked_of(holder=4)], token)
    assert (orders.abort is not None) is aborted
