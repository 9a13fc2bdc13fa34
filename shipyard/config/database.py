"""The database stage: where its throwaway databases are created."""

from __future__ import annotations

from pydantic import Field

from shipyard.config.base import Strict


class DatabaseChecks(Strict):
    server_url_env: str = Field(
        "SHIPYARD_TEST_DATABASE_URL",
        description="Variable holding a PostgreSQL server URL to create throwaway databases in (its user needs "
        "CREATEROLE: each database gets a role of its own); unset: a temporary server is started for the run.",
    )
