"""The analysis window counts the requests sent after it opened: a slow request sent before a shift is the step
before's, however late it answers."""

from __future__ import annotations

import threading
import time
from typing import Any

from shipyard.release.probe import LoadGenerator
from tests.support.http_standin import Answer, serving


def test_a_request_sent_before_the_window_opened_is_not_counted_in_it() -> None:
    slow = threading.Event()
    slow.set()
    in_flight = threading.Event()

    def app(method: str, path: str, headers: Any, body: bytes) -> Answer:
        if slow.is_set():
            in_flight.set()
            time.sleep(0.6)
            return 200, {}, {"X-Colour": "slow"}
        return 200, {}, {"X-Colour": "fast"}

    with serving(app) as url, LoadGenerator(url, keepalive_clients=1, fresh_clients=0) as load:
        assert in_flight.wait(10)  # one slow request in flight (waited for, not assumed after a sleep: a busy machine)
        slow.clear()
        window = load.open_window()  # returns the window that closes
        time.sleep(1.0)
        fresh = load.window
    # told apart by what answered them, not by their latency: on a busy machine a fast answer can take 600 ms too
    assert fresh.by_colour["fast"] > 0
    assert fresh.by_colour["slow"] == 0, "the slow request that was in flight at the shift landed in the new window"
    assert window.by_colour["slow"] == 1 and max(window.latencies_ms) >= 500


def test_the_probe_sends_no_more_than_its_rate_however_fast_the_answers() -> None:
    """The release engine's probe is `rollout.probe_rate` a second, not as many as the machine can send: unpaced,
    its two clients sent about 200 a second through production's router for the whole rollout."""
    with serving(lambda *_: (200, {}, {})) as url:
        started = time.monotonic()
        with LoadGenerator(url, keepalive_clients=2, fresh_clients=0, rate=20) as load:
            time.sleep(2.0)
        elapsed = time.monotonic() - started
    assert 5 <= load.total.requests <= 20 * elapsed + 2, (load.total.requests, elapsed)
