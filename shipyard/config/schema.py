"""The pipeline configuration a team keeps in its repository (`shipyard.yaml`)."""

from __future__ import annotations

import datetime
import fnmatch
import os
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import cronsim
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shipyard.release.rollout import RolloutSpec, plan_problem

ToolchainKind = Literal["python", "node"]
OnUnavailable = Literal["fail", "warn"]
Severity = Literal["info", "low", "medium", "high", "critical"]
StageName = Literal["quality", "security", "database", "docs", "images"]
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
    "image-config",
    "image-vulns",
]
IMAGE_SCANNERS: tuple[ScannerName, ...] = ("image-config", "image-vulns")  # run by the images stage on each built image
DEFAULT_REQUIRED: tuple[StageName, ...] = ("quality", "security", "database")

_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("expected a path inside the repository (relative, without '..')")
    return value


class Coverage(Strict):
    report: str = Field(description="Cobertura XML the test command writes, relative to the app folder.")
    min: float = Field(ge=0, le=100, description="Lowest line coverage, in percent, that passes the check.")

    _report = field_validator("report")(_relative_path)


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


class SmokeTest(Strict):
    path: str = Field(pattern=r"^/", description="Path requested, e.g. /health.")
    method: Literal["GET", "HEAD", "OPTIONS"] = Field("GET", description="Smoke tests only read.")
    status: int = Field(200, ge=100, le=599, description="Expected HTTP status.")
    json_field: str | None = Field(None, description="Dotted JSON field that must be present, e.g. status.")
    equals: str | int | float | bool | None = Field(None, description="Value the JSON field must have.")


class ContainerServe(Strict):
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment of the container; {port} is the colour's port."
    )
    read_only: bool = Field(True, description="Run with a read-only root filesystem.")
    tmpfs: list[str] = Field(["/tmp"], description="Writable in-memory folders inside the container.")


class Serve(Strict):
    command: str = Field(description="Command that serves one colour, with {port}; runs in the release's folder.")
    container: ContainerServe | None = Field(
        None,
        description="How a release whose artifact is an image runs: a container on the host network "
        "(the local backend, with a Docker engine).",
    )
    health: str = Field("/health", pattern=r"^/", description="Liveness path.")
    ready: str = Field("/ready", pattern=r"^/", description="Readiness path; no traffic before it answers 2xx.")
    smoke: list[SmokeTest] = Field(default_factory=list, description="Checks on the preview address and at 100%.")


class Migrations(Strict):
    tool: Literal["alembic"] = Field("alembic", description="Migration tool; run from the app's environment.")
    config: str = Field("alembic.ini", description="Its config file, relative to the app folder.")
    url_env: str = Field("DATABASE_URL", description="Environment variable the migrations read the database URL from.")
    timeout: float = Field(300, gt=0, description="Seconds each migration step may take.")

    _config = field_validator("config")(_relative_path)


class Docs(Strict):
    openapi: str = Field(
        pattern=r"^[\w.]+:[\w.]+$",
        description="ASGI app or app factory whose OpenAPI document is published, e.g. 'api.main:create_app'.",
    )


class App(Strict):
    path: str = Field(description="Folder of the app inside the repository.")
    toolchain: ToolchainKind = Field(description="Language toolchain: 'python' or 'node'.")
    versions: list[str] = Field(min_length=1, description="Toolchain versions; every check runs once per version.")
    lockfile: str = Field(description="Dependency lock file relative to the app folder; keys the install cache.")
    install: str | None = Field(
        None, description="Install command; default: pip install -r LOCKFILE into a venv, or npm ci."
    )
    inputs: list[str] = Field(
        default_factory=list,
        description="Extra repository paths the checks read (shared config); in the cache key.",
    )
    checks: dict[str, Check] = Field(min_length=1, description="Named checks, e.g. lint, typecheck, format, test.")
    serve: Serve | None = Field(None, description="How a release of the app runs and is verified when deployed.")
    migrations: Migrations | None = Field(None, description="Database migrations the database stage verifies.")
    docs: Docs | None = Field(None, description="API documentation the docs stage generates.")

    _path = field_validator("path")(_relative_path)

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: list[str]) -> list[str]:
        for version in value:
            if not all(part.isdigit() for part in version.split(".")):
                raise ValueError(f"expected versions like '3.11' or '20', got {version!r}")
        if len(set(value)) != len(value):
            raise ValueError("versions must not repeat")
        return value


Port = Annotated[int, Field(ge=1, le=65535)]


class LocalPorts(Strict):
    router: Port = Field(description="127.0.0.1 port the app's router (HAProxy) listens on: the app's address.")
    blue: Port = Field(description="127.0.0.1 port of the blue colour (its preview address).")
    green: Port = Field(description="127.0.0.1 port of the green colour (its preview address).")

    def colours(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}


class LocalTarget(Strict):
    backend: Literal["local"] = Field(description="Blue-green on this machine: colours are processes behind HAProxy.")
    ports: dict[str, LocalPorts] = Field(default_factory=dict, description="Ports per app deployed here.")

    def placed(self) -> list[str]:
        return list(self.ports)


class Addresses(Strict):
    url: str = Field(
        pattern=r"^https?://",
        description="Where the app's users reach it (load balancer, ingress): final smoke tests and the traffic "
        "analysis at each step go here.",
    )
    preview_url: str = Field(
        pattern=r"^https?://",
        description="Where the new colour answers before it takes traffic (ALB test listener, preview Service's "
        "ingress): smoke tests go here first.",
    )


class KubernetesApp(Addresses):
    manifest: str = Field(
        description="File (relative to the repository root) holding the app's Deployment, named after the app: "
        "<app>-blue and <app>-green are made from it."
    )


class KubernetesTarget(Strict):
    backend: Literal["kubernetes"] = Field(description="Blue-green Deployments switched by a Service selector.")
    namespace: str = Field(description="Namespace the app's Deployments and Services live in.")
    context: str | None = Field(None, description="kubeconfig context; default: in-cluster or current context.")
    traffic: Literal["selector", "replicas"] = Field(
        "selector",
        description="selector: the active Service <app> switches colour at once (all-or-nothing, steps collapse to "
        "100%); replicas: one Service selects both colours and steps are replica ratios (approximate weights).",
    )
    apps: dict[str, KubernetesApp] = Field(default_factory=dict, description="Apps deployed here.")

    def placed(self) -> list[str]:
        return list(self.apps)


class EcsApp(Addresses):
    listener_arn: str = Field(description="ALB listener whose forward action holds the two weighted target groups.")
    target_groups: dict[Literal["blue", "green"], str] = Field(description="Target group ARN per colour.")
    container: str = Field(description="Container of the task definition that runs the app's image.")
    container_port: int = Field(ge=1, le=65535, description="Port the container listens on behind the ALB.")
    desired_count: int = Field(2, ge=1, description="Tasks per colour while it runs.")
    subnets: list[str] = Field(default_factory=list, description="awsvpc subnets of new services.")
    security_groups: list[str] = Field(default_factory=list, description="awsvpc security groups of new services.")
    launch_type: Literal["FARGATE", "EC2"] = Field("FARGATE", description="Launch type of new services.")
    alarms: list[str] = Field(
        default_factory=list, description="CloudWatch alarms: any in ALARM during the rollout rolls it back."
    )
    test_listener_arn: str | None = Field(
        None,
        description="ALB test listener (CodeDeploy's test traffic route): forwarded to the new colour when it "
        "starts, so preview_url reaches it before it takes traffic.",
    )

    @field_validator("target_groups")
    @classmethod
    def _both_colours(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"blue", "green"}:
            raise ValueError("expected a target group for blue and one for green")
        return value


class EcsTarget(Strict):
    backend: Literal["ecs"] = Field(description="Blue-green ECS services behind weighted ALB target groups.")
    cluster: str = Field(description="ECS cluster name.")
    region: str = Field(description="AWS region.")
    endpoint_url: str | None = Field(None, description="AWS endpoint override (a stand-in such as moto).")
    credentials_block: str | None = Field(
        None, description="prefect-aws AwsCredentials block to sign with; default: boto3's own credential chain."
    )
    apps: dict[str, EcsApp] = Field(default_factory=dict, description="Apps deployed here.")

    def placed(self) -> list[str]:
        return list(self.apps)


Target = Annotated[LocalTarget | KubernetesTarget | EcsTarget, Field(discriminator="backend")]


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


class BranchRule(Strict):
    branch: str = Field(min_length=1, description="Branch name or glob, e.g. 'main' or 'feature/*'.")
    environment: str | None = Field(None, description="Environment a push deploys to; none means checks only.")
    apps: list[str] | None = Field(None, description="Apps this rule covers; default all.")
    required: list[StageName] = Field(
        list(DEFAULT_REQUIRED), description="Stages whose failure fails the run (quality, security, database, docs)."
    )
    optional: list[StageName] = Field(default_factory=list, description="Stages that run and report but never block.")

    @model_validator(mode="after")
    def _stages_once(self) -> BranchRule:
        both = set(self.required) & set(self.optional)
        if both:
            raise ValueError(f"stages {sorted(both)} are listed as both required and optional")
        return self

    def matches(self, branch: str) -> bool:
        return fnmatch.fnmatchcase(branch, self.branch)


class Slack(Strict):
    channel: str = Field(pattern=r"^[#@]?[\w.-]+$", description="Channel to post to, e.g. '#deployments'.")
    token_env: str = Field("SLACK_BOT_TOKEN", description="Environment variable holding the bot token.")
    token_secret: str | None = Field(
        None, description="Prefect Secret block holding the bot token; wins over token_env when set."
    )
    api_url: str = Field("https://slack.com/api/", description="Web API base URL (a stand-in in tests).")


class GitHub(Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name the commit statuses go to.")
    api_url: str = Field("https://api.github.com", description="REST API base URL (GitHub Enterprise: its /api/v3).")
    token_env: str = Field("GITHUB_TOKEN", description="Environment variable holding the token.")
    context: str = Field("shipyard", description="Prefix of the status contexts, e.g. shipyard/security.")


class Notifications(Strict):
    slack: Slack | None = Field(None, description="Slack notifications; none disables them.")


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
    scanners: dict[ScannerName, ScannerSettings] = Field(default_factory=dict, description="Per-scanner settings.")

    @field_validator("rules", "dockerfiles", "manifests")
    @classmethod
    def _inside_repository(cls, value: list[str]) -> list[str]:
        return [_relative_path(item) for item in value]

    def scanner(self, name: ScannerName) -> ScannerSettings:
        return self.scanners.get(name) or ScannerSettings()

    def on_unavailable_for(self, name: ScannerName, default: OnUnavailable) -> OnUnavailable:
        """The scanner's own setting, else the stage's, else the checks' default."""
        return self.scanner(name).on_unavailable or self.on_unavailable or default


class AppImage(Strict):
    dockerfile: str = Field(description="Production Dockerfile, relative to the repository root (the build context).")
    dev_dockerfile: str | None = Field(None, description="Dev Dockerfile, built to measure the size reduction.")
    budget_mb: float = Field(gt=0, description="Largest compressed size (registry manifest), in MB, that passes.")

    _paths = field_validator("dockerfile", "dev_dockerfile")(_relative_path)


class Images(Strict):
    registry: str = Field(
        "127.0.0.1:5000", pattern=r"^[\w.-]+(:\d+)?$", description="Registry host[:port] images are pushed to."
    )
    namespace: str = Field("platform", pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$", description="Path under the registry.")
    credentials_block: str | None = Field(
        None, description="Name of a prefect-docker DockerRegistryCredentials block; none: push without login."
    )
    version: str | None = Field(
        None, pattern=r"^v?\d+\.\d+\.\d+$", description="Release version when the commit has no vX.Y.Z tag."
    )
    parallelism: int = Field(2, ge=1, le=16, description="Images built at once.")
    push_attempts: int = Field(3, ge=1, le=10, description="Attempts per push before the build check fails.")
    timeout: float = Field(1800, gt=0, description="Seconds one image build may take.")
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Docker build arguments, e.g. the base images (PYTHON_RUNTIME: ...)."
    )
    apps: dict[str, AppImage] = Field(default_factory=dict, description="Apps that ship an image, by name.")


class DatabaseChecks(Strict):
    server_url_env: str = Field(
        "SHIPYARD_TEST_DATABASE_URL",
        description="Variable holding a PostgreSQL server URL to create throwaway databases in; "
        "unset: a temporary server is started for the run.",
    )


class PipelineConfig(Strict):
    version: Literal[1] = Field(description="Schema version of this file.")
    project: str = Field(min_length=1, description="Project name shown in reports and notifications.")
    apps: dict[str, App] = Field(min_length=1, description="The apps of the repository, by name.")
    checks: ChecksPolicy = Field(default_factory=ChecksPolicy, description="How checks run and gate.")
    environments: dict[str, Environment] = Field(default_factory=dict, description="Deploy environments by name.")
    branches: list[BranchRule] = Field(default_factory=list, description="Branch rules; the first match wins.")
    notifications: Notifications = Field(default_factory=Notifications, description="Where results are posted.")
    nightly: Nightly = Field(default_factory=Nightly, description="Schedule of the nightly suite.")
    security: Security = Field(default_factory=Security, description="Security stage: scanners and policy.")
    database: DatabaseChecks = Field(default_factory=DatabaseChecks, description="Database stage settings.")
    github: GitHub | None = Field(None, description="Commit statuses on GitHub; none disables them.")
    images: Images = Field(default_factory=Images, description="Images stage: builds, registry, size budgets.")

    def rule_for(self, branch: str) -> BranchRule | None:
        return next((rule for rule in self.branches if rule.matches(branch)), None)

    def stages_for(
        self, branch: str | None, only: list[StageName] | None = None, extra: list[StageName] | None = None
    ) -> dict[StageName, bool]:
        """Stages to run for a branch, each mapped to whether it is required (no matching rule: the defaults).

        only: run just these; extra: run these too. A stage the rule does not require runs as optional.
        """
        rule = self.rule_for(branch) if branch else None
        required = set(rule.required if rule else DEFAULT_REQUIRED)
        chosen = (
            only
            if only is not None
            else [*(rule.required if rule else DEFAULT_REQUIRED), *(rule.optional if rule else [])]
        )
        return {stage: stage in required for stage in dict.fromkeys([*chosen, *(extra or [])])}
