"""One-time UI codes over HTTP: the relay's POST /approvals/code (it holds the ledger and so the policy), and the
client `shipyard approvals code` uses. The code travels only in this answer, to whoever signed the request."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deployments.http_body import read_body
from shipyard import signatures
from shipyard.errors import InputError
from shipyard.home import Zone
from shipyard.ledger import Ledger
from shipyard.pipeline.approval_codes import CodeRefused, Issued, issue, new_request
from shipyard.policy.current import in_force
from shipyard.policy.model import PolicyRefused
from shipyard.resources import opened
from shipyard.webhooks import Rejected

LOG = logging.getLogger("shipyard.relay")
MAX_REQUEST_BYTES = 32_768
PATH = "/approvals/code"


def code_route(ledger: Ledger) -> Route:
    async def codes(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, MAX_REQUEST_BYTES, f"{MAX_REQUEST_BYTES} bytes")
            data = json.loads(body)
            if not isinstance(data, dict):
                raise InputError("expected a JSON object")
            issued = await run_in_threadpool(lambda: issue(ledger, in_force(ledger).policy, data))
        except Rejected as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except (CodeRefused, PolicyRefused) as exc:
            LOG.warning("approval code refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=403)
        except (InputError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        LOG.info("approval code issued to %s for flow run %s", issued.approver, data.get("run"))
        answer = {"approver": issued.approver, "code": issued.code, "expires_at": issued.expires_at.isoformat()}
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return Route(PATH, codes, methods=["POST"])


def request_code(relay: str | None, run_id: str, key: Path, answer: dict[str, object]) -> Issued:
    """Sign a code request for this run and answer with the approver's key and have it answered: by the relay at
    this URL, or (None) here, from the ledger this machine shares with the workers, through the same checks."""
    payload = new_request(run_id, answer)
    signature = signatures.sign(signatures.canonical(payload), signatures.CODE_NAMESPACE, key)
    body = payload | {"signature": signature}
    if relay is None:
        with opened(zone=Zone.PROTECTED) as resources:
            return issue(resources.ledger, in_force(resources.ledger).policy, body)
    try:
        response = httpx.post(relay.rstrip("/") + PATH, json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise InputError(f"cannot reach the Shipyard relay at {relay}: {exc}") from None
    try:
        said: dict[str, str] = response.json()
    except ValueError:
        said = {"error": response.text[:200]}
    if response.status_code != 200:
        raise InputError(f"the relay at {relay} refused the code request ({response.status_code}): {said.get('error')}")
    return Issued(said["approver"], said["code"], datetime.fromisoformat(said["expires_at"]))
