"""An app of the repository: its toolchain and checks, how a release of it serves and is smoke-tested, its
database migrations and its API docs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipyard.config.base import Strict, relative_path
from shipyard.config.checks import Check

ToolchainKind = Literal["python", "node"]


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

    _config = field_validator("config")(relative_path)


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

    _path = field_validator("path")(relative_path)

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: list[str]) -> list[str]:
        for version in value:
            if not all(part.isdigit() for part in version.split(".")):
                raise ValueError(f"expected versions like '3.11' or '20', got {version!r}")
        if len(set(value)) != len(value):
            raise ValueError("versions must not repeat")
        return value
