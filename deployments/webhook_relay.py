"""The GitHub webhook relay: verify → route by the branch rules → spool to disk → 202; a dispatcher turns spooled
deliveries into flow runs (created from the deployment, keyed by the delivery id). GitHub gets its answer in
milliseconds, whatever Prefect is doing: the dispatcher and the approval watcher run in a process of their own, so
the Prefect client's work never holds the interpreter lock the acknowledgements need.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deployments.approval_codes import code_route
from deployments.http_body import read_body
from shipyard.config.schema import PipelineConfig
from shipyard.ledger import Ledger
from shipyard.webhook_spool import Pending, Received, Spool, SpoolUnavailable
from shipyard.webhooks import Ignored, Rejected, route, verify_signature

Dispatch = Callable[[Pending], str]  # returns the flow run id
DELIVERY_ID = re.compile(r"^[A-Za-z0-9-]{1,100}$")
MAX_RETRY_SECONDS = 60.0
POLL_SECONDS = 0.2
PRUNE_SECONDS = 3600.0
RETRY_AFTER_SECONDS = 60
# Under the grace `shipyard.runner.stop` gives the relay itself, so the relay reports its own stop. Cutting a dispatch
# short loses nothing: the delivery stays spooled, and its idempotency key finds the run if the server made it.
STOP_GRACE = 5.0
LOG = logging.getLogger("shipyard.webhook_relay")


class PrefectDispatch:
    """Creates the flow run through one API client kept for the dispatcher thread (run_deployment opens a new
    client and looks the deployment up on every call: ten times slower here)."""

    def __init__(self) -> None:
        self._client: Any = None
        self._deployments: dict[str, Any] = {}

    def __call__(self, pending: Pending) -> str:
        from prefect.client.orchestration import get_client

        if self._client is None:
            self._client = get_client(sync_client=True)
            self._client.__enter__()
        deployment = self._deployments.get(pending.deployment)
        if deployment is None:
            deployment = self._client.read_deployment_by_name(pending.deployment).id
            self._deployments[pending.deployment] = deployment
        flow_run = self._client.create_flow_run_from_deployment(
            deployment, parameters=pending.parameters, idempotency_key=pending.idempotency_key, tags=["webhook"]
        )
        return str(flow_run.id)


class Dispatcher:
    """Drains the spool; a failed dispatch is retried with backoff, never dropped."""

    def __init__(self, spool: Spool, dispatch: Dispatch, poll: float = 0.5) -> None:
        self.spool = spool
        self.dispatch = dispatch
        self.poll = poll
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        pruned_at = 0.0
        while not stop.is_set():
            if time.monotonic() - pruned_at >= PRUNE_SECONDS:
                pruned_at = time.monotonic()
                LOG.info("forgot %d deliveries dispatched over %g days ago", self.spool.prune(), self.spool.keep_days)
            due = self.spool.due()
            for pending in due:
                if stop.is_set():  # SIGTERM: after the dispatch in progress, not the whole batch (50 at ~2/s)
                    return
                try:
                    self.spool.dispatched(pending.delivery, self.dispatch(pending))
                except Exception as exc:  # Prefect down, deployment missing...: keep it, try again later
                    retry = min(2.0 ** (pending.attempts + 1), MAX_RETRY_SECONDS)
                    self.spool.failed(pending.delivery, f"{type(exc).__name__}: {exc}", retry)
            if not due:
                self.wake.wait(self.poll)
                self.wake.clear()


class InThread:
    """The dispatcher on a thread of the relay (tests inject their own dispatch this way)."""

    def __init__(self, spool: Spool, dispatch: Dispatch) -> None:
        self.dispatcher = Dispatcher(spool, dispatch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.dispatcher.run, args=(self._stop,), daemon=True)

    def wake(self) -> None:
        self.dispatcher.wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        self._thread.join(10)


class OwnProcess:
    """The dispatcher (Prefect) and the approval watcher (every watch_interval seconds) in a child process, which
    finds new deliveries by polling the spool (no shared locks between the processes) and stops on SIGTERM after
    the dispatch in progress."""

    def __init__(self, spool: Spool, config: PipelineConfig, watch_interval: float | None) -> None:
        context = multiprocessing.get_context("spawn")
        args = (spool.path, spool.keep_days, config, watch_interval)
        self._process = context.Process(target=_background, args=args, daemon=True)

    def wake(self) -> None:
        pass  # the child polls every POLL_SECONDS

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        """Bounded: SIGTERM (it finishes the dispatch in progress), then SIGKILL after STOP_GRACE; logged either way."""
        started = time.monotonic()
        self._process.terminate()
        self._process.join(STOP_GRACE)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
            LOG.warning("relay dispatcher did not stop within %g s of SIGTERM: killed", STOP_GRACE)
        else:
            LOG.info("relay dispatcher stopped %.1f s after SIGTERM", time.monotonic() - started)


def _background(spool: Path, keep_days: float, config: PipelineConfig, watch_interval: float | None) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us in order
    if watch_interval:
        from deployments.approvals import sweep_once

        Every(watch_interval, lambda: sweep_once(config)).start()
    Dispatcher(Spool(spool, keep_days), PrefectDispatch(), poll=POLL_SECONDS).run(stop)


class Every:
    """Runs a job every `interval` seconds in the background (the approval watcher); a failure is logged."""

    def __init__(self, interval: float, job: Callable[[], object]) -> None:
        self.interval = interval
        self.job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="approval-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception:
                LOG.exception("approval watcher pass failed; trying again in %.0f s", self.interval)


class GroupCommit:
    """Deliveries that arrive while the spool syncs to disk wait for the next sync together: one sync covers a
    batch instead of each delivery waiting its turn for its own, and the event loop never waits on the disk."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._waiting: list[tuple[Received, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, received: Received) -> bool:
        """Whether it is new (False: a redelivery); raises SpoolUnavailable when it could not be recorded."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((received, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                added = await asyncio.to_thread(self._spool.add_all, [received for received, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():  # a request whose client went away is cancelled: nobody waits for it
                        future.set_exception(exc)
            else:
                for (_, future), new in zip(batch, added, strict=True):
                    if not future.done():
                        future.set_result(new)


def create_app(
    config: PipelineConfig,
    secret: bytes,
    spool: Spool,
    dispatch: Dispatch | None = None,
    watch_interval: float | None = 30.0,
    ledger: Ledger | None = None,
) -> Starlette:
    """Without `dispatch`, deliveries go to Prefect from a process of their own, where the approval watcher also
    runs every watch_interval seconds (None: no watcher). With the ledger it also issues one-time approval codes
    (POST /approvals/code): it holds the policy."""
    background = InThread(spool, dispatch) if dispatch else OwnProcess(spool, config, watch_interval)
    commits = GroupCommit(spool)

    async def github(request: Request) -> JSONResponse:
        try:
            body = await read_body(request)
            verify_signature(secret, body, request.headers.get("x-hub-signature-256"))
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise Rejected(415, f"Content-Type {content_type or '(none)'}: set the webhook to application/json")
            event = _header(request, "x-github-event", re.compile(r"^[a-z_]{1,50}$"))
            delivery = _header(request, "x-github-delivery", DELIVERY_ID)
            payload = _json(body)
            outcome = route(event, delivery, payload, config)
        except Rejected as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        if isinstance(outcome, Ignored):
            return JSONResponse({"ignored": outcome.why}, status_code=202)
        received = Received(delivery, outcome.deployment, outcome.parameters, outcome.idempotency_key)
        try:
            added = await commits.add(received)
        except SpoolUnavailable as exc:  # not acknowledged: GitHub's delivery log shows it failed, to redeliver
            LOG.error("delivery %s not queued: %s", delivery, exc)
            return JSONResponse(
                {"error": f"{exc}; nothing was queued, redeliver it later"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        background.wake()
        return JSONResponse(
            {"queued": outcome.deployment, "why": outcome.why, "delivery": delivery, "redelivery": not added},
            status_code=202,
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", **spool.counts()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        background.start()
        try:
            yield
        finally:
            background.stop()

    routes = [Route("/github", github, methods=["POST"]), Route("/health", health, methods=["GET"])]
    return Starlette(routes=routes + ([code_route(ledger)] if ledger else []), lifespan=lifespan)


def _header(request: Request, name: str, shape: re.Pattern[str]) -> str:
    value = request.headers.get(name, "")
    if not shape.match(value):
        raise Rejected(400, f"header {name} is {'missing' if not value else 'malformed'}")
    return value


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "body must be a JSON object")
    return payload


def spool_path(home: Path) -> Path:
    return home / "webhooks" / "spool.db"
