"""Traffic cutover through the local router under continuous load (bar: zero failed requests).

A real HAProxy in front of two stand-in colours; 8 keep-alive clients and 4 clients opening a new connection per
request run throughout while traffic shifts 0 -> 10 -> 50 -> 100 % to green, each step held for a quarter of the
requests. Prints requests, failures and the time each weight change took (admin socket round trips).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.release.probe import LoadGenerator
from tests.support.colours import blue_green

TOTAL = 10_000
STEPS = (10, 50, 100)


def wait_for_requests(load: LoadGenerator, target: int) -> None:
    while load.total.requests < target:
        time.sleep(0.05)


with tempfile.TemporaryDirectory() as tmp, blue_green(Path(tmp), {"blue": 100, "green": 0}) as colours:
    load = LoadGenerator(colours.router.url, keepalive_clients=8, fresh_clients=4)
    rows = []
    with load:
        started = time.perf_counter()
        wait_for_requests(load, TOTAL // 4)
        load.open_window()
        for index, weight in enumerate(STEPS, start=2):
            t0 = time.perf_counter()
            colours.router.set_weights({"blue": 100 - weight, "green": weight})
            switch_ms = (time.perf_counter() - t0) * 1000
            read_back = colours.router.weights()
            wait_for_requests(load, TOTAL * index // 4)
            window = load.open_window()
            rows.append((weight, switch_ms, read_back, window))
        elapsed = time.perf_counter() - started
    total = load.total
    print(
        f"clients: 8 keep-alive + 4 new-connection; {total.requests} requests in {elapsed:.1f} s "
        f"({total.requests / elapsed:.0f}/s)"
    )
    print(f"{'step':>6} {'switch ms':>10} {'read back':>22} {'requests':>9} {'failed':>7} {'green share':>12}")
    for weight, switch_ms, read_back, window in rows:
        share = window.by_colour["green"] / max(1, window.requests)
        print(
            f"{weight:>5}% {switch_ms:>10.1f} {read_back!s:>22} {window.requests:>9} {window.failures:>7} "
            f"{share:>11.0%}"
        )
    print(f"failed requests: {total.failures} of {total.requests}  (bar: 0)  {dict(total.errors)}")
    print(f"p95 latency: {total.p95_ms():.1f} ms")
