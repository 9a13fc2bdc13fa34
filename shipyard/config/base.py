"""What every section of `shipyard.yaml` shares: strict, frozen models and the check that a path stays inside the
repository."""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("expected a path inside the repository (relative, without '..')")
    return value
