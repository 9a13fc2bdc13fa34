"""A deploy environment: where it runs, how traffic moves to a new release and who approves it."""

from __future__ import annotations

import datetime

from pydantic import Field, field_validator, model_validator

from shipyard.config.base import Strict
from shipyard.config.targets import Target
from shipyard.release.rollout import RolloutSpec, plan_problem

SPEC = RolloutSpec()  # the engine's defaults


class Rollout(Strict):
    """Defaults are the release engine's own (RolloutSpec): one source."""

    steps: list[int] = Field(
        list(SPEC.steps), min_length=1, description="Percent of traffic on the new colour, step by step."
    )
    pause_seconds: float = Field(
        SPEC.pause.total_seconds(), ge=0, description="Time at each step before its analysis decides."
    )
    max_error_rate: float = Field(
        SPEC.max_error_rate, ge=0, le=1, description="Roll back above this share of failed requests."
    )
    max_p95_ms: float = Field(SPEC.max_p95_ms, gt=0, description="Roll back above this p95 latency.")
    min_samples: int = Field(SPEC.min_samples, ge=1, description="Requests sampled at a step before it may pass.")
    probe_rate: float = Field(
        SPEC.probe_rate, gt=0, description="Requests a second the release's probe sends through the router."
    )
    health_timeout_seconds: float = Field(
        SPEC.health_timeout.total_seconds(), gt=0, description="The new colour must be ready within this."
    )
    scale_down_delay_seconds: float = Field(
        SPEC.scale_down_delay.total_seconds(),
        ge=0,
        description="The old colour stays up this long for a fast way back.",
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        problem = plan_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def spec(self) -> RolloutSpec:
        return RolloutSpec(
            steps=tuple(self.steps),
            pause=datetime.timedelta(seconds=self.pause_seconds),
            max_error_rate=self.max_error_rate,
            max_p95_ms=self.max_p95_ms,
            min_samples=self.min_samples,
            probe_rate=self.probe_rate,
            health_timeout=datetime.timedelta(seconds=self.health_timeout_seconds),
            scale_down_delay=datetime.timedelta(seconds=self.scale_down_delay_seconds),
        )


class Environment(Strict):
    target: Target = Field(description="Where releases of this environment run.")
    other_targets: list[Target] = Field(
        default_factory=list,
        description="Further places this environment can be released to, picked with `--target <backend>`.",
    )
    rollout: Rollout = Field(default_factory=Rollout, description="Traffic steps and the analysis at each.")
    approval: bool = Field(False, description="Suspend for an approval before anything touches the environment.")
    approvers: list[str] = Field(default_factory=list, description="Who may approve (names typed in the form).")
    allow_self_approval: bool = Field(False, description="May the commit author approve their own change.")
    approval_timeout_hours: float = Field(24, gt=0, description="An approval not given by then is a rejection.")
    database_url_env: str | None = Field(
        None,
        description="Environment variable holding this environment's database URL: migrations run against it after "
        "the approval, and releases get it under their app's migrations.url_env.",
    )

    @model_validator(mode="after")
    def _approvers_when_gated(self) -> Environment:
        if self.approval and not self.approvers:
            raise ValueError("approval is on but no approvers are listed")
        return self

    @model_validator(mode="after")
    def _one_target_per_backend(self) -> Environment:
        backends = [t.backend for t in self.targets()]
        if len(set(backends)) != len(backends):
            raise ValueError(f"target and other_targets name the same backend twice: {', '.join(backends)}")
        return self

    def targets(self) -> list[Target]:
        return [self.target, *self.other_targets]
