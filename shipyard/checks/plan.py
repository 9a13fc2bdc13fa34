"""Turn the config into the list of checks to run: one per app, check and toolchain version."""

from __future__ import annotations

import datetime
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from shipyard import tools
from shipyard.apidocs.generate import DRIVER as DOCS_DRIVER
from shipyard.checks.model import CheckSpec
from shipyard.config.schema import PipelineConfig
from shipyard.config.security import IMAGE_SCANNERS, ScannerName
from shipyard.database.verify import DRIVER as MIGRATION_DRIVER
from shipyard.deps import install_command
from shipyard.security.scanners import RULE_PACK, SCANNERS, Scanner
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


def plan_security(config: PipelineConfig, required: bool, root_id: str, today: datetime.date) -> list[CheckSpec]:
    """One check per enabled scanner over the whole commit (root_id: its tree); results keep for a day at most,
    so an allow-list entry that expires is seen the day it does."""
    security = config.security
    rule_pack = _file_digest(RULE_PACK)
    specs = []
    for name in get_args(ScannerName):
        settings = security.scanner(name)
        if not settings.enabled or name in IMAGE_SCANNERS:
            continue
        definition = {
            "tree": root_id,
            "scanner": name,
            "tool": _tool(SCANNERS[name]),
            "rule_pack": rule_pack,
            "policy": security.model_dump(mode="json"),
            "apps": {n: [a.path, a.lockfile, a.toolchain] for n, a in config.apps.items()},
            "image_lockfiles": {n: a.prefetch for n, a in config.images.apps.items()},
            "day": today.isoformat(),
        }
        specs.append(
            CheckSpec.for_stage(
                "security",
                "security",
                name,
                required=required,
                on_unavailable=security.on_unavailable_for(name, config.checks.on_unavailable),
                timeout=settings.timeout,
                content_key=_digest(definition),
            )
        )
    return specs


def plan_app_stage(
    config: PipelineConfig,
    stage: str,
    required: bool,
    content_id: Callable[[str], str],
    apps: list[str] | None = None,
) -> list[CheckSpec]:
    """The database and docs stages: one check per app that declares it, on the app's first toolchain version."""
    check, driver = {"database": ("migrations", MIGRATION_DRIVER), "docs": ("openapi", DOCS_DRIVER)}[stage]
    specs = []
    for name, app in config.apps.items():
        settings = app.migrations if stage == "database" else app.docs
        if settings is None or (apps is not None and name not in apps):
            continue
        definition = {
            "tree": {path: content_id(path) for path in (app.path, *app.inputs)},
            "settings": settings.model_dump(mode="json"),
            "install": install_command(app),
            "driver": _file_digest(driver),
        }
        specs.append(
            CheckSpec.for_stage(
                stage,
                name,
                check,
                required=required,
                on_unavailable=config.checks.on_unavailable,
                timeout=getattr(settings, "timeout", 300),
                content_key=_digest(definition),
                toolchain=label(app.toolchain, app.versions[0]),
            )
        )
    return specs


def plan_images(config: PipelineConfig, required: bool, apps: list[str] | None = None) -> list[CheckSpec]:
    """Per app with an image: the build (push, budget) and trivy's scans of the built image. Not cached: the
    point is a real build (the engine's layer cache makes an unchanged one quick)."""
    security = config.security
    specs = []
    for name in config.images.apps:
        if apps is not None and name not in apps:
            continue
        specs.append(
            CheckSpec.for_stage(
                "images",
                name,
                "image",
                required=required,
                on_unavailable=config.checks.on_unavailable,
                timeout=config.images.timeout,
                content_key="",
            )
        )
        for scanner in IMAGE_SCANNERS:
            settings = security.scanner(scanner)
            if settings.enabled:
                on_unavailable = security.on_unavailable_for(scanner, config.checks.on_unavailable)
                specs.append(
                    CheckSpec.for_stage(
                        "images",
                        name,
                        scanner,
                        required=required,
                        on_unavailable=on_unavailable,
                        timeout=settings.timeout,
                        content_key="",
                    )
                )
    return specs


def check_cache_key(spec: CheckSpec, toolchain_version: str, deps_key: str) -> str:
    """What a check reads: its files and definition, the exact toolchain and the installed dependencies."""
    return "check-" + _digest({"content": spec.content_key, "toolchain": toolchain_version, "deps": deps_key})


def _tool(scanner: Scanner) -> str:
    if scanner.inspect is not None:  # Shipyard's own module is the tool: a change to its rules is a new version
        return _file_digest(Path(inspect.getfile(scanner.inspect)))
    return tools.TOOLS[scanner.tool].requirement if scanner.tool in tools.TOOLS else scanner.tool


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
