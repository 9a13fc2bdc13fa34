"""Apply an app's migrations to an environment's database, from the packaged release (its own Alembic)."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.config.apps import App
from shipyard.deps import tool_env
from shipyard.errors import ShipyardError
from shipyard.runner import run


class MigrationFailed(ShipyardError):
    pass


def upgrade(name: str, app: App, release_folder: Path, database_url: str) -> str:
    """`alembic upgrade head`, then the revision the database is at (recorded with the release)."""
    assert app.migrations is not None
    env = tool_env()
    env[app.migrations.url_env] = database_url
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the release folder stays byte for byte what its digest says
    env["PATH"] = os.pathsep.join([str(release_folder / ".venv" / "bin"), env["PATH"]])
    alembic = ["alembic", "-c", app.migrations.config]
    for args in (["upgrade", "head"], ["current"]):
        result = run(
            [*alembic, *args], cwd=release_folder, env=env, timeout=app.migrations.timeout, secrets=[database_url]
        )
        if not result.ok:
            raise MigrationFailed(
                f"{name}: alembic {' '.join(args)} failed (exit {result.returncode}):\n{result.tail(15)}"
            )
    revision = result.stdout.strip().split()
    return revision[0] if revision else "base"
