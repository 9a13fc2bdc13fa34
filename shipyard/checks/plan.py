"""Turn the config into the list of checks to run: one per app, check and toolchain version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from shipyard.checks.model import CheckSpec
from shipyard.config.schema import PipelineConfig
from shipyard.deps import install_command
from shipyard.toolchains import label


@dataclass(frozen=True)
class MatrixEntry:
    app: str
    kind: str
    version: str

    @property
    def toolchain(self) -> str:
        return label(self.kind, self.version)

    @property
    def name(self) -> str:
        return f"{self.app}/{self.toolchain}"


def matrix(config: PipelineConfig, apps: list[str] | None = None) -> list[MatrixEntry]:
    return [
        MatrixEntry(name, app.toolchain, version)
        for name, app in config.apps.items()
        if apps is None or name in apps
        for version in app.versions
    ]


def plan_checks(
    config: PipelineConfig, entries: list[MatrixEntry], content_id: Callable[[str], str]
) -> list[CheckSpec]:
    """content_id(path) is the content hash of a repository path at the commit (git's object id)."""
    specs = []
    for entry in entries:
        app = config.apps[entry.app]
        paths = (app.path, *app.inputs)
        tree = {path: content_id(path) for path in paths}
        for check_name, check in app.checks.items():
            definition = {
                "tree": tree,
                "check": check.model_dump(mode="json"),
                "install": install_command(app),
                "toolchain": entry.toolchain,
            }
            specs.append(
                CheckSpec(
                    app=entry.app,
                    check=check_name,
                    toolchain=entry.toolchain,
                    kind=entry.kind,
                    version=entry.version,
                    app_path=app.path,
                    paths=paths,
                    command=check.command,
                    timeout=check.timeout,
                    required=check.required,
                    on_unavailable=check.on_unavailable or config.checks.on_unavailable,
                    junit=check.junit,
                    coverage_report=check.coverage.report if check.coverage else None,
                    coverage_min=check.coverage.min if check.coverage else None,
                    content_key=_digest(definition),
                )
            )
    return specs


def check_cache_key(spec: CheckSpec, toolchain_version: str, deps_key: str) -> str:
    """What a check reads: its files and definition, the exact toolchain and the installed dependencies."""
    return "check-" + _digest({"content": spec.content_key, "toolchain": toolchain_version, "deps": deps_key})


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]
