"""The nightly suite: its schedule and the load test it runs against an environment."""

from __future__ import annotations

import datetime
from typing import Literal

import cronsim
from pydantic import Field, field_validator

from shipyard.config.base import Strict

_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class LoadTest(Strict):
    app: str = Field(description="App whose address in the nightly environment is loaded.")
    paths: list[str] = Field(["/health"], min_length=1, description="Paths each simulated user requests in turn.")
    users: int = Field(20, ge=1, le=10000, description="Simulated users.")
    spawn_rate: float = Field(5, gt=0, description="Users started per second.")
    duration_seconds: int = Field(60, ge=1, description="How long the load runs.")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="Fails above this share of failed requests.")
    max_p95_ms: float = Field(500, gt=0, description="Fails above this 95th percentile latency.")

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not p.startswith("/") or "," in p]
        if bad:
            raise ValueError(f"paths must start with / and hold no comma, got {bad}")
        return value


class Nightly(Strict):
    cron: str = Field("0 2 * * *", description="Cron expression for the nightly suite.")
    timezone: Literal["UTC"] = Field("UTC", description="Nightly schedules run in UTC.")
    environment: str | None = Field(None, description="Environment the load test runs against (e.g. staging).")
    load: LoadTest | None = Field(None, description="Load test settings; none: no load test.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            cronsim.CronSim(value, _EPOCH)
        except cronsim.CronSimError as exc:
            raise ValueError(f"expected a 5-field cron expression like '0 2 * * *': {exc}") from None
        return value
