"""Webhook relay ingest: acknowledgement latency (p50/p99) and deliveries/s at concurrency 50, then every accepted
delivery must become a flow run (targets: p99 < 50 ms, >= 200/s on 2 cores, 0 lost). Baseline in the same run: the
relay's GET /health at the same rate (the HTTP stack without a delivery's work).

Real pieces: `shipyard webhook serve` as its own process, a real Prefect server with a pr-checks deployment (no
worker: the runs stay scheduled), signed deliveries over HTTP from one asyncio client with 50 in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time

import httpx
from _harness import ROOT, start

DELIVERIES, CONCURRENCY = int(os.environ.get("DELIVERIES", "2000")), 50
SECRET = b"bench-secret"
RATE = 200.0

server, work = start("webhook")
relay = None
try:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from shipyard.files import free_port

    with SyncPrefectClient(server.api_url) as client:
        client.create_work_pool(WorkPoolCreate(name="shipyard-process", type="process"))
        deployment = client.create_deployment(
            client.create_flow_from_name("pr-checks"), "pr-checks", work_pool_name="shipyard-process"
        )
    port = free_port()
    env = dict(os.environ, GITHUB_WEBHOOK_SECRET=SECRET.decode())
    config = ROOT / "examples" / "platform" / "shipyard.yaml"
    relay = subprocess.Popen(
        [sys.executable, "-m", "cli", "webhook", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)

    def request(i: int) -> tuple[bytes, dict[str, str]]:
        repository = {"clone_url": "https://github.invalid/acme/platform.git", "full_name": "acme/platform"}
        payload = {"ref": "refs/heads/feature/bench", "after": f"{i:040x}", "repository": repository}
        body = json.dumps(payload).encode()
        return body, {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"bench-{i}",
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest(),
        }

    async def send(client: httpx.AsyncClient, i: int, gate: asyncio.Semaphore) -> tuple[float, bool]:
        async with gate:
            started = time.perf_counter()
            if i < 0:  # the baseline: the relay's own GET /health over the same HTTP stack, no delivery work
                response = await client.get("/health")
                return (time.perf_counter() - started) * 1000, response.status_code == 200
            body, headers = request(i)
            response = await client.post("/github", content=body, headers=headers)
            return (time.perf_counter() - started) * 1000, response.status_code == 202

    async def offered(first: int, count: int, rate: float | None) -> tuple[list[float], int, float]:
        """rate=None: closed loop, 50 in flight, as fast as the relay answers (its throughput). rate=200: GitHub's
        deliveries arriving at 200/s, at most 50 in flight (the acknowledgement latency a sender sees)."""
        gate = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=CONCURRENCY), timeout=30) as c:
            began = time.perf_counter()
            tasks = []
            for n in range(count):
                if rate is not None:
                    await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(send(c, first + n, gate)))
            results = await asyncio.gather(*tasks)
            return [r[0] for r in results], sum(r[1] for r in results), time.perf_counter() - began

    half = DELIVERIES // 2
    baseline, _baseline_ok, _baseline_seconds = asyncio.run(offered(-10 * half, half, RATE))  # negative: GET /health
    latencies, accepted_open, _open_seconds = asyncio.run(offered(0, half, RATE))
    closed, accepted_closed, seconds = asyncio.run(offered(half, DELIVERIES - half, None))
    accepted = accepted_open + accepted_closed
    drain_started = time.perf_counter()
    while httpx.get(url + "/health").json()["waiting"] and time.perf_counter() - drain_started < 600:
        time.sleep(0.5)
    drained = time.perf_counter() - drain_started
    with SyncPrefectClient(server.api_url) as client:
        runs = client.count_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment])))
    cuts = statistics.quantiles(latencies, n=100)
    closed_cuts = statistics.quantiles(closed, n=100)
    print(f"deliveries {DELIVERIES}, at most {CONCURRENCY} in flight, accepted {accepted}")
    base_cuts = statistics.quantiles(baseline, n=100)
    print(f"offered {RATE:.0f}/s: ack latency p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms  (target p99 < 50 ms)")
    print(f"baseline GET /health at {RATE:.0f}/s, same run: p50 {base_cuts[49]:.1f} ms, p99 {base_cuts[98]:.1f} ms;"
          f" delivery/baseline p50 {cuts[49] / base_cuts[49]:.2f}, p99 {cuts[98] / base_cuts[98]:.2f}")  # fmt: skip
    print(f"closed loop: {(DELIVERIES - half) / seconds:.0f} deliveries/s  (target >= 200/s), "
          f"p50 {closed_cuts[49]:.1f} ms, p99 {closed_cuts[98]:.1f} ms")  # fmt: skip
    print(f"flow runs created {runs} of {accepted} accepted, lost {accepted - runs}  (drained in {drained:.1f} s)")
finally:
    if relay is not None:
        relay.terminate()
        relay.wait(10)
    server.stop()
