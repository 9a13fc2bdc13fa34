"""Webhook relay ingest: acknowledgement latency (p50/p99) and deliveries/s at concurrency 50, then every accepted
delivery must become a flow run (targets: p99 < 50 ms, >= 200/s on 2 cores, 0 lost). Baselines in the same run:
the relay's GET /health at the same rate and in the same closed loop (the HTTP stack without a delivery's work).

Real pieces: `shipyard webhook serve` as its own process, a real Prefect server with a pr-checks deployment (no
worker: the runs stay scheduled), signed deliveries over HTTP/1.1 keep-alive from one asyncio sender with 50
connections (bench/_http_load.py: a sender light enough that the relay, not the sender, sets the pace). Three
rounds back to back while the relay's dispatcher turns what it spooled into flow runs; figures are the medians of
the rounds. The Prefect server (SQLite) creates a few runs a second, far fewer than GitHub can send: after the last
round the dispatcher gets a window (WINDOW_SECONDS), then the relay is stopped and every accepted delivery is
accounted for: a flow run (found by its idempotency key), not yet dispatched (still in the spool, which the relay
sends on when it runs again), or lost (in neither). Exits non-zero when a delivery was refused or lost, never on a
time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

import httpx
from _harness import ROOT, RUNS, fail, finish, median, ratio, shipyard_command, start, stop_server
from _http_load import Connection, connections

PER_ROUND, CONCURRENCY = int(os.environ.get("DELIVERIES", "400")), 50  # deliveries per round, each way
SECRET = b"bench-secret"
RATE = 200.0
WINDOW_SECONDS = float(os.environ.get("WINDOW_SECONDS", "60"))  # for the dispatcher after the last round

server, work = start("webhook")
relay = None
problems: list[str] = []
rounds: list[dict[str, float]] = []
accepted: set[str] = set()
refused: list[str] = []
try:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from deployments.pools import create_process_pools
    from deployments.webhook_relay import spool_path
    from shipyard.files import free_port
    from shipyard.runner import spawn, stop

    with SyncPrefectClient(server.api_url) as client:
        create_process_pools(client, "shipyard-checks")
        deployment = client.create_deployment(
            client.create_flow_from_name("pr-checks"), "pr-checks", work_pool_name="shipyard-checks"
        )
    port = free_port()
    config = ROOT / "examples" / "platform" / "shipyard.yaml"
    relay_log = work / "relay.log"
    relay = spawn(
        [*shipyard_command(), "webhook", "serve", "--config", str(config), "--port", str(port)],
        log=relay_log,
        env=dict(os.environ, GITHUB_WEBHOOK_SECRET=SECRET.decode()),
        cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if relay.poll() is not None or time.monotonic() > deadline:
            fail(f"the relay did not answer /health (exit {relay.poll()}); its log:\n{relay_log.read_text()[-2000:]}")
        time.sleep(0.1)

    def request(i: int) -> tuple[bytes, dict[str, str]]:
        repository = {
            "clone_url": "https://github.invalid/example/sample-platform.git",
            "full_name": "example/sample-platform",
            "default_branch": "main",
        }
        payload = {"ref": "refs/heads/feature/bench", "after": f"{i:040x}", "repository": repository}
        body = json.dumps(payload).encode()
        return body, {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"bench-{i}",
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest(),
        }

    async def send(pool: asyncio.Queue[Connection], i: int | None) -> float:
        """One request (i=None: the baseline, GET /health over the same HTTP stack, no delivery work); its ms."""
        connection = await pool.get()
        try:
            started = time.perf_counter()
            if i is None:
                status, _ = await connection.request("GET", "/health")
                if status != 200:
                    problems.append(f"GET /health answered {status}")
                return (time.perf_counter() - started) * 1000
            body, headers = request(i)
            status, answer = await connection.request("POST", "/github", body, headers)
            elapsed = (time.perf_counter() - started) * 1000
        finally:
            pool.put_nowait(connection)
        if status == 202 and "queued" in json.loads(answer):
            accepted.add(f"bench-{i}")
        else:
            refused.append(f"bench-{i}: {status} {answer[:200]!r}")
        return elapsed

    async def offered(first: int | None, count: int, rate: float | None) -> tuple[list[float], float]:
        """rate=None: closed loop, 50 in flight, as fast as the relay answers (its throughput). rate=200: GitHub's
        deliveries arriving at 200/s, at most 50 in flight (the acknowledgement latency a sender sees)."""
        async with connections("127.0.0.1", port, CONCURRENCY) as pool:
            began = time.perf_counter()
            tasks = []
            for n in range(count):
                if rate is not None:
                    await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(send(pool, None if first is None else first + n)))
            latencies = await asyncio.gather(*tasks)
            return list(latencies), time.perf_counter() - began

    def spool_counts() -> tuple[int, int]:
        """(dispatched, waiting) as the relay's spool has them."""
        counts = httpx.get(url + "/health", timeout=5).json()
        return int(counts["received"]) - int(counts["waiting"]), int(counts["waiting"])

    first_sent = time.perf_counter()
    for number in range(RUNS):
        base_open, _ = asyncio.run(offered(None, PER_ROUND, RATE))
        ack, _ = asyncio.run(offered(2 * number * PER_ROUND, PER_ROUND, RATE))
        base_closed, base_seconds = asyncio.run(offered(None, PER_ROUND, None))
        closed, closed_seconds = asyncio.run(offered((2 * number + 1) * PER_ROUND, PER_ROUND, None))
        cuts, base_cuts = statistics.quantiles(ack, n=100), statistics.quantiles(base_open, n=100)
        rounds.append(
            {
                "p50": cuts[49],
                "p99": cuts[98],
                "base p50": base_cuts[49],
                "base p99": base_cuts[98],
                "rate": PER_ROUND / closed_seconds,
                "base rate": PER_ROUND / base_seconds,
                "closed p99": statistics.quantiles(closed, n=100)[98],
            }
        )
        r = rounds[-1]
        print(
            f"  round {number + 1}: ack p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms (GET /health p50 "
            f"{r['base p50']:.1f}, p99 {r['base p99']:.1f}); closed loop {r['rate']:.0f}/s (GET /health "
            f"{r['base rate']:.0f}/s); flow runs so far {spool_counts()[0]}"
        )
    window = time.perf_counter()
    while spool_counts()[1] and time.perf_counter() - window < WINDOW_SECONDS:
        time.sleep(0.5)
    dispatched, _ = spool_counts()
    dispatch_rate = dispatched / (time.perf_counter() - first_sent)
    print(f"window closed: {stop(relay, 'webhook relay')}")  # what is not dispatched yet stays in the spool
    relay = None

    with closing(sqlite3.connect(f"file:{spool_path(Path(os.environ['SHIPYARD_HOME']))}?mode=ro", uri=True)) as spool:
        spooled = dict(spool.execute("SELECT delivery, flow_run FROM deliveries").fetchall())
    # the idempotency key of every flow run of the deployment, by run: a run the killed relay's last request created
    # while the pages were read shifts them, and is then read twice
    keys: dict[str, str] = {}
    pages = 0
    with SyncPrefectClient(server.api_url) as client:
        only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        while page := client.read_flow_runs(
            deployment_filter=only, sort=FlowRunSort.ID_DESC, limit=200, offset=pages * 200
        ):
            keys.update((str(run.id), run.idempotency_key or str(run.id)) for run in page)
            pages += 1
finally:
    if relay is not None:
        print(f"stopped: {stop(relay, 'webhook relay')}")
    stop_server(server)
    shutil.rmtree(work, ignore_errors=True)

runs = set(keys.values())
created = {d for d in accepted if f"github-{d}" in runs}
queued = {d for d in accepted - created if d in spooled and spooled[d] is None}
lost = accepted - created - queued
unexpected = len(keys) - len(created)


def of(key: str) -> list[float]:
    return [r[key] for r in rounds]


print(f"deliveries {2 * PER_ROUND} per round ({PER_ROUND} at {RATE:.0f}/s, {PER_ROUND} closed loop), at most "
      f"{CONCURRENCY} in flight; {len(accepted)} accepted of {2 * RUNS * PER_ROUND}")  # fmt: skip
base50 = median(f"GET /health p50 at {RATE:.0f}/s (baseline)", of("base p50"), "ms", 1)
ack50 = median(f"delivery ack p50 at {RATE:.0f}/s", of("p50"), "ms", 1)
base99 = median(f"GET /health p99 at {RATE:.0f}/s (baseline)", of("base p99"), "ms", 1)
ack99 = median(f"delivery ack p99 at {RATE:.0f}/s", of("p99"), "ms", 1)
base_rate = median("GET /health closed loop (baseline)", of("base rate"), "/s", 0)
rate = median("deliveries closed loop", of("rate"), "/s", 0)
median("delivery ack p99, closed loop", of("closed p99"), "ms", 1)
ratio("ack/baseline p50", ack50, base50)
ratio("ack/baseline p99", ack99, base99, f"target: p99 < 50 ms, here {ack99:.1f} ms")
ratio("deliveries/baseline throughput", rate, base_rate, f"target >= 200/s, here {rate:.0f}/s")
print(f"dispatcher: {dispatch_rate:.1f} flow runs/s from the first delivery until the window closed "
      f"({WINDOW_SECONDS:g} s after the last round at most)")  # fmt: skip
print(f"accepted {len(accepted)}: flow runs created {len(created)}, not yet dispatched {len(queued)} (still in the "
      f"spool, sent on when the relay runs again), lost {len(lost)}  (bar: 0)")  # fmt: skip
if lost:
    sample = ", ".join(sorted(lost)[:5])
    problems.append(f"{len(lost)} accepted deliveries are neither a flow run nor in the spool (e.g. {sample})")
if unexpected:
    problems.append(f"{unexpected} flow runs beyond one per accepted delivery (duplicates?)")
if refused:
    problems.append(f"{len(refused)} deliveries refused (bar: 0), e.g. {refused[0]}")
finish(problems)
