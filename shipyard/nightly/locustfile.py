"""Shipyard's locust user: GETs the configured paths in turn (SHIPYARD_LOAD_PATHS, comma-separated).

Run by locust in its own virtualenv, never imported by Shipyard.
"""

import os

from locust import HttpUser, constant, task

PATHS = [p for p in os.environ.get("SHIPYARD_LOAD_PATHS", "/health").split(",") if p]


class PathsUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def visit(self) -> None:
        for path in PATHS:
            self.client.get(path, name=path)
