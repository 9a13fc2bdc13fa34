"""Real requests through the router: the engine's analysis probe, and the load in benchmarks and tests.

Keep-alive clients reuse one connection; the others open a new connection per request, since a router change
can hurt either kind. Each response is counted by the colour that answered (X-Colour header when present).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from shipyard import tls
from shipyard.release.rollout import Analysis


@dataclass
class Window:
    """Requests since the window opened."""

    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    by_colour: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    def p95_ms(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    def analysis(self) -> Analysis:
        rate = self.failures / self.requests if self.requests else 0.0
        return Analysis(samples=self.requests, error_rate=rate, p95_ms=self.p95_ms())


class LoadGenerator:
    """Threads sending GET url+path until stopped, `rate` requests a second in all or as fast as they can; failure =
    connection error, timeout or 5xx."""

    def __init__(
        self,
        url: str,
        keepalive_clients: int = 8,
        fresh_clients: int = 4,
        path: str = "/",
        timeout: float = 5.0,
        rate: float | None = None,
    ) -> None:
        self.url = url.rstrip("/") + path
        self.keepalive_clients = keepalive_clients
        self.fresh_clients = fresh_clients
        self.timeout = timeout
        # each client's own share of the requests a second (None: as fast as the clients can go)
        self.interval = (keepalive_clients + fresh_clients) / rate if rate else 0.0
        self.total = Window()
        self.window = Window()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for index in range(self.keepalive_clients + self.fresh_clients):
            thread = threading.Thread(target=self._client, args=(index < self.keepalive_clients,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 1)

    def open_window(self) -> Window:
        """Start a new analysis window; returns the one that closes."""
        with self._lock:
            closed, self.window = self.window, Window()
        return closed

    def _client(self, keepalive: bool) -> None:
        client = httpx.Client(timeout=self.timeout, verify=tls.context()) if keepalive else None
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                self._one(client)
                due = max(due + self.interval, time.monotonic())  # a slow answer is not made up with a burst
                self._stop.wait(max(0.0, due - time.monotonic()))
        finally:
            if client is not None:
                client.close()

    def _one(self, client: httpx.Client | None) -> None:
        started = time.perf_counter()
        current = self.window  # a request sent before a shift belongs to the step before it, however late it ends
        colour, failed, error = "", False, ""
        try:
            response = (
                client.get(self.url) if client else httpx.get(self.url, timeout=self.timeout, verify=tls.context())
            )
            colour = response.headers.get("x-colour", "")
            failed = response.status_code >= 500
            error = f"HTTP {response.status_code}" if failed else ""
        except httpx.HTTPError as exc:
            failed, error = True, type(exc).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            for window in (self.total, current):
                window.latencies_ms.append(elapsed)
                window.failures += failed
                if colour:
                    window.by_colour[colour] += 1
                if error:
                    window.errors[error] += 1
