"""The webhook relay over real HTTP (uvicorn on 127.0.0.1): verification, routing, spooling, dispatch."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from deployments.webhook_relay import Dispatcher, GroupCommit, create_app
from shipyard.config import load_config
from shipyard.files import free_port
from shipyard.webhook_spool import Pending, Received, Spool, SpoolUnavailable

SECRET = b"relay-test-secret"
CONFIG = load_config(Path(__file__).parents[2] / "examples" / "platform" / "shipyard.yaml")
REPO = {
    "clone_url": "https://github.invalid/example/sample-platform.git",
    "full_name": "example/sample-platform",
    "default_branch": "main",
}


@dataclass
class Relay:
    url: str
    spool: Spool
    dispatched: list[Pending] = field(default_factory=list)
    failures_left: int = 0

    def dispatch(self, pending: Pending) -> str:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("Prefect API not reachable (test)")
        self.dispatched.append(pending)
        return f"run-{len(self.dispatched)}"


def serve(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    spool = Spool(tmp_path / "spool.db")
    state = Relay("", spool)
    for url in serve(create_app(CONFIG, SECRET, spool, state.dispatch)):
        state.url = url
        yield state
    spool.close()


def delivery(event: str, payload: Any, delivery_id: str, secret: bytes = SECRET) -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
        },
    }


def push(branch: str, sha: str = "9f" * 20) -> dict[str, Any]:
    return {"ref": f"refs/heads/{branch}", "after": sha, "repository": REPO}


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


def test_a_signed_push_to_main_is_queued_then_dispatched_once(relay: Relay) -> None:
    response = httpx.post(relay.url + "/github", **delivery("push", push("main"), "d-main-1"))
    assert response.status_code == 202
    assert response.json()["queued"] == "production-deploy/production-deploy"
    wait_for(lambda: len(relay.dispatched) == 1)
    [pending] = relay.dispatched
    assert pending.idempotency_key == "github-d-main-1"
    assert pending.parameters["environment"] == "production" and pending.parameters["branch"] == "main"
    assert httpx.get(relay.url + "/health").json() == {"status": "ok", "received": 1, "waiting": 0}


def test_ten_redeliveries_start_one_run(relay: Relay) -> None:
    answers = [httpx.post(relay.url + "/github", **delivery("push", push("staging"), "d-same")) for _ in range(10)]
    assert [a.status_code for a in answers] == [202] * 10
    assert [a.json()["redelivery"] for a in answers] == [False] + [True] * 9
    wait_for(lambda: relay.spool.counts()["waiting"] == 0)
    time.sleep(0.3)
    assert len(relay.dispatched) == 1


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"headers": {"X-Hub-Signature-256": ""}}, 401, "X-Hub-Signature-256 header is missing"),
        ({"headers": {"X-Hub-Signature-256": "sha256=" + "0" * 64}}, 401, "does not match the body"),
        (
            {"headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "set the webhook to application/json",
        ),
        ({"headers": {"X-GitHub-Event": ""}}, 400, "header x-github-event is missing"),
        ({"headers": {"X-GitHub-Delivery": "../etc"}}, 400, "header x-github-delivery is malformed"),
    ],
)
def test_bad_deliveries_are_refused_with_the_reason(
    relay: Relay, change: dict[str, Any], status: int, message: str
) -> None:
    request = delivery("push", push("main"), "d-bad")
    request["headers"].update(change["headers"])
    response = httpx.post(relay.url + "/github", **request)
    assert response.status_code == status and message in response.json()["error"]
    assert relay.spool.counts()["received"] == 0


def test_malformed_json_and_oversized_bodies(relay: Relay) -> None:
    broken = httpx.post(relay.url + "/github", **delivery("push", b'{"ref": "refs/heads/ma', "d-json"))
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    huge = httpx.post(relay.url + "/github", **delivery("push", b"x" * (25 * 1024 * 1024 + 1), "d-huge"))
    assert huge.status_code == 413
    assert relay.spool.counts()["received"] == 0


def test_events_that_start_nothing_are_202_with_the_reason(relay: Relay) -> None:
    response = httpx.post(relay.url + "/github", **delivery("issues", {"action": "opened"}, "d-issue"))
    assert response.status_code == 202
    assert response.json() == {"ignored": "event 'issues' starts nothing (push and pull_request do)"}


def test_a_failed_dispatch_is_retried_not_lost(relay: Relay) -> None:
    relay.failures_left = 1
    assert httpx.post(relay.url + "/github", **delivery("push", push("develop"), "d-retry")).status_code == 202
    wait_for(lambda: len(relay.dispatched) == 1, timeout=15)
    assert relay.spool.flow_run_of("d-retry") == "run-1"


def test_a_thousand_fuzzed_requests_get_no_5xx_and_start_nothing(relay: Relay) -> None:
    """Forged or mangled deliveries: bad signatures, truncated bodies, wrong content types, huge headers, noise."""
    rng = random.Random(20261127)
    good = delivery("push", push("main"), "d-fuzz")
    statuses = []
    with httpx.Client(base_url=relay.url, timeout=10) as client:
        for i in range(1000):
            headers = dict(good["headers"])
            body = good["content"]
            kind = i % 5
            if kind == 0:
                headers["X-Hub-Signature-256"] = "sha256=" + "".join(rng.choice("0123456789abcdef") for _ in range(64))
            elif kind == 1:
                body = body[: rng.randrange(len(body))]  # truncated, signature of the whole
            elif kind == 2:
                headers["Content-Type"] = rng.choice(["text/plain", "application/xml", "multipart/form-data", ""])
            elif kind == 3:  # a forgery with huge headers (some past the server's limit)
                headers[f"X-Fuzz-{i}"] = "a" * rng.randrange(1, 120_000)
                headers["X-Hub-Signature-256"] = "sha256=" + "f" * 64
            else:
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
            try:
                statuses.append(client.post("/github", content=body, headers=headers).status_code)
            except httpx.RemoteProtocolError:
                statuses.append(0)  # the server closed a request with oversized headers: refused, not crashed
    assert not [s for s in statuses if s >= 500]
    assert relay.spool.counts()["received"] == 0 and not relay.dispatched
    assert httpx.get(relay.url + "/health").status_code == 200


def test_a_non_ascii_signature_is_401_not_a_crash(relay: Relay) -> None:
    request = delivery("push", push("main"), "d-utf8")
    request["headers"]["X-Hub-Signature-256"] = ("sha256=" + "é" * 64).encode()  # the raw bytes GitHub never sends
    response = httpx.post(relay.url + "/github", **request)
    assert response.status_code == 401 and "must be 'sha256=<hex digest>'" in response.json()["error"]
    assert relay.spool.counts()["received"] == 0


def test_a_pull_request_number_that_is_no_number_is_400(relay: Relay) -> None:
    head, base = {"sha": "9f" * 20, "ref": "feature/x"}, {"sha": "b" * 40, "ref": "main"}
    payload = {
        "action": "opened",
        "number": "7 or 1=1",
        "repository": REPO,
        "pull_request": {"head": head, "base": base},
    }
    response = httpx.post(relay.url + "/github", **delivery("pull_request", payload, "d-number"))
    assert response.status_code == 400 and "payload field number is '7 or 1=1'" in response.json()["error"]
    assert relay.spool.counts()["received"] == 0


def test_a_signed_push_from_another_repository_is_403_and_queues_nothing(relay: Relay) -> None:
    other = {"clone_url": "https://github.invalid/example/other.git", "full_name": "example/other"}
    response = httpx.post(relay.url + "/github", **delivery("push", push("main") | {"repository": other}, "d-other"))
    assert response.status_code == 403
    assert response.json()["error"] == (
        "repository 'example/other' is not the one this relay serves (example/sample-platform); nothing queued"
    )
    time.sleep(0.3)
    assert relay.spool.counts()["received"] == 0 and not relay.dispatched


FILLER = "INSERT INTO deliveries VALUES (?, 'x', ?, 'x', 0, 'done', 0, 0, NULL)"  # a delivery already dispatched


def test_a_spool_that_cannot_write_answers_503_and_a_later_redelivery_is_queued(relay: Relay) -> None:
    db = relay.spool._db
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")  # no page more: SQLite's own SQLITE_FULL, as on a full disk
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        for i in range(10_000):  # fill what is left of the last page with deliveries already dispatched
            db.execute(FILLER, (f"filler-{i}", "x" * 200))
    before = relay.spool.counts()
    request = delivery("push", push("main", "ab" * 20), "d-full")
    refused = httpx.post(relay.url + "/github", **request)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
    assert "database or disk is full" in refused.json()["error"] and "nothing was queued" in refused.json()["error"]
    assert relay.spool.counts() == before and not relay.dispatched
    db.execute("PRAGMA max_page_count = 1073741823")  # space again: GitHub's redelivery of the same delivery
    accepted = httpx.post(relay.url + "/github", **request)
    assert accepted.status_code == 202 and accepted.json()["redelivery"] is False
    wait_for(lambda: len(relay.dispatched) == 1)


def test_the_spool_syncs_each_delivery_and_forgets_only_old_dispatched_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", keep_days=7)
    assert spool._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    for name in ("old-done", "old-waiting", "new-done"):
        assert spool.add(name, "staging-deploy/staging-deploy", {}, f"github-{name}")
    spool.dispatched("old-done", "run-1")
    spool.dispatched("new-done", "run-2")
    eight_days_ago = time.time() - 8 * 86400
    spool._db.execute("UPDATE deliveries SET received = ? WHERE delivery LIKE 'old-%'", (eight_days_ago,))
    assert spool.prune() == 1
    assert spool.flow_run_of("new-done") == "run-2"
    assert [p.delivery for p in spool.due()] == ["old-waiting"]  # never dispatched: kept however old
    assert spool.add("old-done", "staging-deploy/staging-deploy", {}, "github-old-done")  # forgotten
    assert not spool.add("new-done", "staging-deploy/staging-deploy", {}, "github-new-done")  # still a redelivery
    spool.close()


def test_a_stopped_dispatcher_ends_after_the_dispatch_in_progress_not_its_batch(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for i in range(5):
        spool.add(f"d-{i}", "staging-deploy/staging-deploy", {}, f"github-d-{i}")
    stop = threading.Event()
    sent: list[str] = []

    def dispatch(pending: Pending) -> str:  # SIGTERM arrives while the first of the batch is being dispatched
        sent.append(pending.delivery)
        stop.set()
        return f"run-{len(sent)}"

    Dispatcher(spool, dispatch).run(stop)
    assert sent == ["d-0"]
    assert [p.delivery for p in spool.due()] == ["d-1", "d-2", "d-3", "d-4"]  # left for the next start
    spool.close()


def test_deliveries_arriving_during_a_sync_share_the_next_one_and_each_learns_its_own_outcome(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    batches: list[list[str]] = []
    first_sync_started, release_first = threading.Event(), threading.Event()
    record_all = spool.add_all

    def add_all(deliveries: list[Received]) -> list[bool]:
        batches.append([d.delivery for d in deliveries])
        if len(batches) == 1:
            first_sync_started.set()
            release_first.wait(10)  # a slow disk: everything else arrives meanwhile
        if len(batches) == 3:
            raise SpoolUnavailable("disk full (simulated)")
        return record_all(deliveries)

    spool.add_all = add_all  # type: ignore[method-assign]
    commits = GroupCommit(spool)

    def received(name: str) -> Received:
        return Received(name, "pr-checks/pr-checks", {"n": name}, f"github-{name}")

    async def scenario() -> list[bool | str]:
        first = asyncio.create_task(commits.add(received("d-0")))
        await asyncio.to_thread(first_sync_started.wait, 10)
        rest = [asyncio.create_task(commits.add(received(name))) for name in ("d-1", "d-2", "d-1", "d-3")]
        await asyncio.sleep(0.05)
        release_first.set()
        outcomes: list[bool | str] = [await first, *await asyncio.gather(*rest)]
        try:
            await commits.add(received("d-4"))
        except SpoolUnavailable as exc:
            outcomes.append(str(exc))
        outcomes.append(await commits.add(received("d-5")))
        return outcomes

    assert asyncio.run(scenario()) == [True, True, True, False, True, "disk full (simulated)", True]
    assert batches == [["d-0"], ["d-1", "d-2", "d-1", "d-3"], ["d-4"], ["d-5"]]
    assert spool.counts() == {"received": 5, "waiting": 5}  # d-0..d-3 and d-5; d-4 was refused, not half-kept


def test_a_delivery_whose_sender_went_away_does_not_leave_its_batch_unanswered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    started, release = threading.Event(), threading.Event()
    record_all = spool.add_all

    def slow_first(deliveries: list[Received]) -> list[bool]:
        if not started.is_set():
            started.set()
            release.wait(10)
        return record_all(deliveries)

    spool.add_all = slow_first  # type: ignore[method-assign]
    commits = GroupCommit(spool)

    def received(name: str) -> Received:
        return Received(name, "pr-checks/pr-checks", {}, f"github-{name}")

    async def scenario() -> list[bool]:
        first = asyncio.create_task(commits.add(received("d-0")))
        await asyncio.to_thread(started.wait, 10)
        gone, kept = (asyncio.create_task(commits.add(received(n))) for n in ("d-1", "d-2"))
        await asyncio.sleep(0.05)
        gone.cancel()  # the HTTP client disconnected while its delivery waited for the next sync
        release.set()
        return [await first, await asyncio.wait_for(kept, 10)]

    assert asyncio.run(scenario()) == [True, True]
    assert spool.counts()["received"] == 3  # the cancelled one is on disk too: GitHub's redelivery finds it
