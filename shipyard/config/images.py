"""The images stage: the registry images are pushed to, how they are built and each app's Dockerfile and size
budget."""

from __future__ import annotations

from pydantic import Field, field_validator

from shipyard.config.base import Strict, relative_path


class AppImage(Strict):
    dockerfile: str = Field(description="Production Dockerfile, relative to the repository root (the build context).")
    dev_dockerfile: str | None = Field(None, description="Dev Dockerfile, built to measure the size reduction.")
    budget_mb: float = Field(gt=0, description="Largest compressed size (registry manifest), in MB, that passes.")
    prefetch: list[str] = Field(
        default_factory=list,
        description="Lock files (relative to the repository root) whose packages the build installs: builds run with "
        "no network, so these are fetched first into .shipyard-prefetch/<app>/ in the build context (pip/: wheels, "
        "npm/: an npm cache; the app's toolchain decides which).",
    )

    _paths = field_validator("dockerfile", "dev_dockerfile")(relative_path)

    @field_validator("prefetch")
    @classmethod
    def _prefetch_paths(cls, paths: list[str]) -> list[str]:
        return [relative_path(p) for p in paths]


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
