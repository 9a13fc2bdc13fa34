"""Request bodies read no further than a limit: the relay's endpoints face callers it has not verified yet."""

from __future__ import annotations

from starlette.requests import Request

from shipyard.webhooks import MAX_BODY_BYTES, Rejected


async def read_body(request: Request, limit: int = MAX_BODY_BYTES, what: str = "GitHub's 25 MB limit") -> bytes:
    """The body, read no further than the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body of {declared} bytes is over {what}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected(413, f"body is over {what}")
    return bytes(body)
