"""The scanners of the security stage: what each one looks at, how it is called, how its output is read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from shipyard import tools
from shipyard.config.schema import PipelineConfig
from shipyard.config.security import ScannerName
from shipyard.deps import tool_env
from shipyard.runner import CommandResult, ToolNotFound, run
from shipyard.security import lockfiles, parsers
from shipyard.security.findings import Finding, mask_literals, severity
from shipyard.security.parsers import ScannerUnavailable

RULE_PACK = Path(__file__).parent / "rules" / "semgrep.yml"
SKIPPED_FOLDERS = {".git", "node_modules", ".venv", "venv", "__pycache__"}


@dataclass(frozen=True)
class ScanTarget:
    """What the scanners read, resolved from the config against one checkout."""

    root: Path
    python_apps: tuple[tuple[str, str], ...]  # (app folder, lock file)
    node_apps: tuple[tuple[str, str], ...]
    dockerfiles: tuple[str, ...]
    manifests: tuple[str, ...]
    rules: tuple[str, ...]
    kubernetes_version: str
    image_lockfiles: tuple[tuple[str, str], ...] = ()  # (toolchain, lock file from the root) image builds install

    @classmethod
    def resolve(cls, config: PipelineConfig, root: Path) -> ScanTarget:
        def apps(kind: str) -> tuple[tuple[str, str], ...]:
            return tuple((a.path, a.lockfile) for a in config.apps.values() if a.toolchain == kind)

        security = config.security
        images = tuple(
            (config.apps[name].toolchain, lockfile)
            for name, image in config.images.apps.items()
            if name in config.apps
            for lockfile in image.prefetch
        )
        return cls(
            root=root,
            python_apps=apps("python"),
            node_apps=apps("node"),
            dockerfiles=_matching(root, security.dockerfiles),
            manifests=_matching(root, security.manifests),
            rules=(str(RULE_PACK), *(str(root / r) for r in security.rules)),
            kubernetes_version=security.kubernetes_version,
            image_lockfiles=images,
        )

    def lockfiles(self) -> tuple[tuple[str, str], ...]:
        """(toolchain, path from the root) of every lock file the apps and their images install from, once each."""
        apps = [("python", lockfiles.lockfile_path(p, lock)) for p, lock in self.python_apps]
        apps += [("node", lockfiles.lockfile_path(p, lock)) for p, lock in self.node_apps]
        return tuple(dict.fromkeys([*apps, *self.image_lockfiles]))


@dataclass(frozen=True)
class Invocation:
    args: tuple[str, ...]  # arguments after the executable
    parse: Callable[[CommandResult], list[Finding]]
    cwd: str = "."


@dataclass(frozen=True)
class Scanner:
    name: ScannerName
    tool: str  # a key of tools.TOOLS, a command expected on PATH (npm), or "shipyard" for an in-process scanner
    plan: Callable[[ScanTarget], list[Invocation]]
    nothing_to_scan: str = ""
    # In-process instead of a tool: reads the checkout itself; None from it means there is nothing to scan.
    inspect: Callable[[ScanTarget], list[Finding] | None] | None = None


@dataclass(frozen=True)
class ScanOutcome:
    findings: tuple[Finding, ...] = ()
    unavailable: str | None = None
    note: str = ""
    duration: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


def _semgrep(t: ScanTarget) -> list[Invocation]:
    configs = [arg for rule in t.rules for arg in ("--config", rule)]
    args = ("scan", *configs, "--metrics=off", "--disable-version-check", "--json", "--quiet", ".")
    return [Invocation(args, parsers.semgrep)]


def _trivy(scanner: str, parse: Callable[[CommandResult], list[Finding]]) -> Callable[[ScanTarget], list[Invocation]]:
    def plan(t: ScanTarget) -> list[Invocation]:
        common = ("--skip-version-check", "--exit-code", "3", "--format", "json", "--quiet")
        skip = ("--skip-dirs", "**/node_modules")
        if scanner == "secret":
            return [Invocation(("fs", "--scanners", "secret", *common, *skip, "."), parse)]
        return [Invocation(("config", *common, *skip, "."), parse)]

    return plan


def _checkov(t: ScanTarget) -> list[Invocation]:
    frameworks = ("--framework", "kubernetes", "dockerfile")
    args = ("-d", ".", *frameworks, "--skip-download", "--quiet", "--compact", "-o", "json")
    return [Invocation(args, parsers.checkov)]


def _hadolint(t: ScanTarget) -> list[Invocation]:
    return [Invocation(("--no-fail", "-f", "json", *t.dockerfiles), parsers.hadolint)] if t.dockerfiles else []


def _kubernetes(t: ScanTarget) -> list[Invocation]:
    if not t.manifests:
        return []
    root = f"{t.root}/"
    args = ("--strict", "--no-warn", "--quiet", "-k", t.kubernetes_version, *t.manifests)
    return [Invocation(args, partial(parsers.kubernetes_validate, root=root))]


def _bandit(t: ScanTarget) -> list[Invocation]:
    if not t.python_apps:
        return []
    paths = [path for path, _ in t.python_apps]
    return [Invocation(("-q", "-r", *paths, "-x", "*/tests/*,*/.venv/*", "-f", "json"), parsers.bandit)]


def _pip_audit(t: ScanTarget) -> list[Invocation]:
    return [
        Invocation(
            (
                "-r",
                f"{path}/{lock}",
                "--strict",
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
            ),
            partial(parsers.pip_audit, lockfile=f"{path}/{lock}"),
        )
        for path, lock in t.python_apps
    ]


def _npm_audit(t: ScanTarget) -> list[Invocation]:
    return [
        Invocation(
            ("audit", "--json", "--package-lock-only"),
            partial(parsers.npm_audit, lockfile=f"{path}/{lock}"),
            cwd=path,
        )
        for path, lock in t.node_apps
    ]


SCANNERS: dict[str, Scanner] = {
    s.name: s
    for s in (
        Scanner("semgrep", "semgrep", _semgrep),
        Scanner("secrets", "trivy", _trivy("secret", parsers.trivy_secrets)),
        Scanner("trivy-config", "trivy", _trivy("config", parsers.trivy_config)),
        Scanner("checkov", "checkov", _checkov),
        Scanner("hadolint", "hadolint", _hadolint, "no Dockerfiles match security.dockerfiles"),
        Scanner("kubernetes", "kubernetes-validate", _kubernetes, "no manifests match security.manifests"),
        Scanner("bandit", "bandit", _bandit, "no Python apps"),
        Scanner("pip-audit", "pip-audit", _pip_audit, "no Python apps"),
        Scanner("npm-audit", "npm", _npm_audit, "no Node apps"),
        Scanner("lockfile-hashes", "shipyard", lambda t: [], "no lock files", inspect=lockfiles.findings),
    )
}


def scan(scanner: Scanner, target: ScanTarget, timeout: float, tool_store: Path) -> ScanOutcome:
    """Run one scanner over the checkout. Whatever keeps it from reporting is 'unavailable', never a pass."""
    if scanner.inspect is not None:
        return _inspect(scanner, scanner.inspect, target)
    invocations = scanner.plan(target)
    if not invocations:
        return ScanOutcome(note=f"nothing to scan: {scanner.nothing_to_scan}")
    return _run(scanner.tool, invocations, target.root, timeout, tool_store)


def _inspect(
    scanner: Scanner, inspect: Callable[[ScanTarget], list[Finding] | None], target: ScanTarget
) -> ScanOutcome:
    started = time.monotonic()
    try:
        findings = inspect(target)
    except Exception as exc:  # a bug or a file it cannot read: the scanner did not do its job, which is no pass
        reason = str(exc) if isinstance(exc, ScannerUnavailable) else f"{type(exc).__name__}: {exc}"
        return ScanOutcome(unavailable=reason, duration=time.monotonic() - started)
    if findings is None:
        return ScanOutcome(note=f"nothing to scan: {scanner.nothing_to_scan}", duration=time.monotonic() - started)
    return ScanOutcome(tuple(findings), duration=time.monotonic() - started)


def _image_findings(result: CommandResult) -> list[Finding]:
    return parsers.trivy_config(result) + parsers.trivy_secrets(result)


def scan_image(reference: str, kind: str, timeout: float, tool_store: Path) -> ScanOutcome:
    """trivy on a built image in the local engine: 'image-config' (misconfigurations and secrets in the layers)
    or 'image-vulns' (needs trivy's vulnerability database; where it cannot be had, that is what it reports)."""
    common = ("--image-src", "docker", "--skip-version-check", "--exit-code", "3", "--format", "json", "--quiet")
    if kind == "image-config":
        invocation = Invocation(("image", "--scanners", "misconfig,secret", *common, reference), _image_findings)
    else:
        invocation = Invocation(("image", "--scanners", "vuln", "--skip-db-update", *common, reference), _vulns)
    return _run("trivy", [invocation], Path.cwd(), timeout, tool_store)


def _vulns(result: CommandResult) -> list[Finding]:
    if result.returncode not in (0, 3) and "DB error" in result.stderr:
        raise ScannerUnavailable(
            "trivy's vulnerability database is not on this machine and is never downloaded by Shipyard "
            f"(--skip-db-update): {parsers.reason(result.stderr.split('DB error:', 1)[1])}"
        )

    def make(target: str, v: dict[str, Any]) -> Finding:
        return Finding("trivy", v["VulnerabilityID"], severity(v.get("Severity")), target, None,
                       f"{v.get('PkgName')} {v.get('InstalledVersion')}: {v.get('Title', '')}".strip())  # fmt: skip

    return parsers.trivy_results(result, "Vulnerabilities", make)


def _run(tool: str, invocations: list[Invocation], root: Path, timeout: float, tool_store: Path) -> ScanOutcome:
    started = time.monotonic()
    findings: list[Finding] = []
    raw: dict[str, Any] = {}
    try:
        executable = str(tools.ensure(tool, tool_store)) if tool in tools.TOOLS else tool
        for number, invocation in enumerate(invocations):
            result = run([executable, *invocation.args], cwd=root / invocation.cwd, env=tool_env(), timeout=timeout)
            raw[f"{invocation.cwd}#{number}"] = _sanitised(result)
            findings += invocation.parse(result)
    except (tools.ToolUnavailable, ToolNotFound, ScannerUnavailable) as exc:
        return ScanOutcome(unavailable=str(exc), duration=time.monotonic() - started, raw=raw)
    return ScanOutcome(tuple(findings), duration=time.monotonic() - started, raw=raw)


# Keys under which tools copy the scanned source lines: a found secret would travel with them into reports.
_SOURCE_KEYS = {"lines", "code", "code_block", "Code", "Match", "fixed_lines", "Lines"}


def _sanitised(result: CommandResult) -> Any:
    try:
        return _drop_source(json.loads(result.stdout))
    except json.JSONDecodeError:
        return {"exit_code": result.returncode, "output": result.tail(200)}


def _drop_source(value: Any) -> Any:
    """Source lines go; quoted values in messages are masked (bandit quotes the password it found)."""
    if isinstance(value, dict):
        return {k: _drop_source(v) for k, v in value.items() if k not in _SOURCE_KEYS}
    if isinstance(value, list):
        return [_drop_source(v) for v in value]
    return mask_literals(value) if isinstance(value, str) else value


def _matching(root: Path, patterns: list[str]) -> tuple[str, ...]:
    found = {str(path.relative_to(root)) for pattern in patterns for path in _glob(root, pattern) if path.is_file()}
    return tuple(sorted(found))


def _glob(root: Path, pattern: str) -> Iterator[Path]:
    for path in root.glob(pattern):
        if not SKIPPED_FOLDERS & set(path.relative_to(root).parts):
            yield path
