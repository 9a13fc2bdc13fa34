"""The security stage: which scanners run, the severity that fails them and the findings accepted with a reason."""

from __future__ import annotations

import datetime
from typing import Literal, get_args

from pydantic import Field, field_validator

from shipyard.config.base import Strict, relative_path
from shipyard.config.checks import OnUnavailable

Severity = Literal["info", "low", "medium", "high", "critical"]
ScannerName = Literal[
    "semgrep",
    "secrets",
    "trivy-config",
    "checkov",
    "hadolint",
    "kubernetes",
    "bandit",
    "pip-audit",
    "npm-audit",
    "lockfile-hashes",
    "image-config",
    "image-vulns",
]
IMAGE_SCANNERS: tuple[ScannerName, ...] = ("image-config", "image-vulns")  # run by the images stage on each built image


class AllowedFinding(Strict):
    rule: str = Field(min_length=1, description="Rule id as the scanner names it, e.g. CKV_K8S_43 or DL3008.")
    reason: str = Field(min_length=1, description="Why the finding is accepted.")
    expires: datetime.date = Field(description="Date from which the entry no longer applies and fails the check.")
    path: str | None = Field(None, description="Only findings in files matching this glob; default anywhere.")


class ScannerSettings(Strict):
    enabled: bool = Field(True, description="Run this scanner.")
    on_unavailable: OnUnavailable | None = Field(None, description="Overrides security.on_unavailable.")
    timeout: float = Field(600, gt=0, description="Seconds before the scanner is killed.")


class Security(Strict):
    fail_on: Severity = Field("high", description="Findings at or above this severity fail their scanner's check.")
    on_unavailable: OnUnavailable | None = Field(
        None, description="When a scanner cannot run or reach its data; default: checks.on_unavailable."
    )
    rules: list[str] = Field(
        default_factory=list, description="Extra semgrep rule files in the repository, beside Shipyard's pack."
    )
    dockerfiles: list[str] = Field(
        ["**/Dockerfile", "**/*.Dockerfile"], description="Globs of Dockerfiles hadolint lints."
    )
    manifests: list[str] = Field(
        ["infra/k8s/**/*.yaml"], description="Globs of Kubernetes manifests validated against the API schema."
    )
    kubernetes_version: str = Field(
        "1.30", pattern=r"^1\.\d+$", description="Kubernetes version the manifests are validated against."
    )
    severity: dict[str, Severity] = Field(
        default_factory=dict, description="Severity by rule id, overriding the scanner's (checkov reports none)."
    )
    allow: list[AllowedFinding] = Field(default_factory=list, description="Accepted findings, each with a reason.")
    scanners: dict[ScannerName, ScannerSettings] = Field(
        default_factory=dict, description=f"Per-scanner settings, by name: {', '.join(get_args(ScannerName))}."
    )

    @field_validator("rules", "dockerfiles", "manifests")
    @classmethod
    def _inside_repository(cls, value: list[str]) -> list[str]:
        return [relative_path(item) for item in value]

    def scanner(self, name: ScannerName) -> ScannerSettings:
        return self.scanners.get(name) or ScannerSettings()

    def on_unavailable_for(self, name: ScannerName, default: OnUnavailable) -> OnUnavailable:
        """The scanner's own setting, else the stage's, else the checks' default."""
        return self.scanner(name).on_unavailable or self.on_unavailable or default
