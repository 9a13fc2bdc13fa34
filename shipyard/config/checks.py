"""A check an app runs (its command, limits and coverage gate) and the top-level `checks:` policy for all of them."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.config.base import Strict, relative_path

OnUnavailable = Literal["fail", "warn"]


class Coverage(Strict):
    report: str = Field(description="Cobertura XML the test command writes, relative to the app folder.")
    min: float = Field(ge=0, le=100, description="Lowest line coverage, in percent, that passes the check.")

    _report = field_validator("report")(relative_path)


class Check(Strict):
    command: str = Field(
        min_length=1, description="Shell command (bash -e -o pipefail) run in the app folder, like a `run:` step."
    )
    timeout: float = Field(600, gt=0, description="Seconds before the tool and its children are killed.")
    required: bool = Field(True, description="A failure of a required check fails the run.")
    junit: str | None = Field(None, description="JUnit XML the command writes, relative to the app folder.")
    coverage: Coverage | None = Field(None, description="Coverage gate read after the command succeeds.")
    on_unavailable: OnUnavailable | None = Field(
        None, description="When the tool cannot run: 'fail' blocks like a failure, 'warn' does not block."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"command": value} if isinstance(value, str) else value


class ChecksPolicy(Strict):
    parallelism: int | None = Field(
        None,
        ge=1,
        le=64,
        description="How many checks run at once; default: one per CPU core (more only adds contention).",
    )
    on_unavailable: OnUnavailable = Field("fail", description="Default for checks whose tool cannot run.")

    def workers(self, override: int | None = None) -> int:
        return override or self.parallelism or os.cpu_count() or 1
