"""Smoke tests: configured HTTP checks against a colour's preview address or through the router."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shipyard import tls

TIMEOUT = 5.0


@dataclass(frozen=True)
class SmokeCheck:
    path: str
    method: str = "GET"
    status: int = 200
    json_field: str | None = None  # dotted path into the JSON body that must be present...
    equals: Any = None  # ...and, when given, equal this


def verdict(check: SmokeCheck, status: int, body: str) -> str | None:
    """None when the response satisfies the check, else what was wrong."""
    if status != check.status:
        return f"{check.method} {check.path}: expected status {check.status}, got {status}"
    if check.json_field is None:
        return None
    try:
        value: Any = httpx.Response(200, content=body.encode()).json()
    except ValueError:
        return f"{check.method} {check.path}: expected a JSON body with {check.json_field!r}"
    for key in check.json_field.split("."):
        if not isinstance(value, dict) or key not in value:
            return f"{check.method} {check.path}: JSON field {check.json_field!r} is missing"
        value = value[key]
    if check.equals is not None and value != check.equals:
        return f"{check.method} {check.path}: {check.json_field} is {value!r}, expected {check.equals!r}"
    return None


def run_smoke(base_url: str, checks: list[SmokeCheck]) -> list[str]:
    """Every failure, in order; an empty list means every check passed."""
    failures = []
    with httpx.Client(base_url=base_url, timeout=TIMEOUT, verify=tls.context()) as client:
        for check in checks:
            try:
                response = client.request(check.method, check.path)
            except httpx.HTTPError as exc:
                failures.append(f"{check.method} {check.path}: {type(exc).__name__}: {exc}")
                continue
            problem = verdict(check, response.status_code, response.text)
            if problem:
                failures.append(problem)
    return failures
