"""infra/compose/docker-compose.prod.yml: docker-compose accepts it, refuses to start without its secrets (naming the
variable), and the resolved stack is what docs/production-stack.md promises."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from shipyard.runner import run
from tests.capabilities import require_tools

COMPOSE = Path(__file__).parents[2] / "infra" / "compose" / "docker-compose.prod.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-value",
    "PREFECT_ADMIN_PASSWORD": "prefect-secret-value",
    "GITHUB_WEBHOOK_SECRET": "webhook-secret-value",
    "DOCKER_GID": "999",
    "SHIPYARD_CONFIG": "/srv/platform/shipyard.yaml",
    "SHIPYARD_SECRETS": "/srv/shipyard/secrets",
}


def compose(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    require_tools("docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    # the template instead of a developer's own infra/compose/.env, which must not fill in what a test leaves out
    template = str(COMPOSE.parent / "env.example")
    result = run(["docker-compose", "-f", str(COMPOSE), "--env-file", template, *args], env=clean | env, timeout=120)
    return result.returncode, result.stdout, result.stderr


def resolved() -> dict[str, Any]:
    code, out, err = compose(SECRETS, "config")
    assert code == 0, err
    return dict(yaml.safe_load(out))


def test_compose_accepts_the_file() -> None:
    code, _, err = compose(SECRETS, "config", "-q")
    assert code == 0, err


def test_a_missing_secret_is_named() -> None:
    without = {k: v for k, v in SECRETS.items() if k != "PREFECT_ADMIN_PASSWORD"}
    code, _, err = compose(without, "config", "-q")
    assert code != 0 and "set PREFECT_ADMIN_PASSWORD (Prefect basic auth)" in err


def test_the_stack_runs_prefect_on_postgres_with_basic_auth_and_everything_on_loopback() -> None:
    services = resolved()["services"]
    assert set(services) >= {
        "postgres",
        "prefect-server",
        "worker",
        "webhook-relay",
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
    }
    assert all(s.get("network_mode") == "host" for s in services.values())  # no bridge networks
    server = services["prefect-server"]["environment"]
    assert server["PREFECT_SERVER_API_AUTH_STRING"] == "admin:prefect-secret-value"
    assert server["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://prefect:")
    for client in ("worker", "webhook-relay"):
        assert services[client]["environment"]["PREFECT_API_AUTH_STRING"] == "admin:prefect-secret-value"
        assert services[client]["environment"]["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert "127.0.0.1" in services["prefect-server"]["command"]
    assert any("/var/run/docker.sock" in str(v) for v in services["worker"]["volumes"])
    assert services["redis"]["profiles"] == ["ha"]  # only with several servers: one keeps messaging in memory


def test_every_file_the_stack_mounts_from_the_repository_exists() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("../"):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}"


def test_no_secret_is_written_in_the_file() -> None:
    for line in (COMPOSE.parent / "env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert key in SECRETS
            assert value == "" or value.startswith("/"), f"{key} must stay a placeholder"
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "AUTH", "CONNECTION_URL")):
                assert "${" in str(value) or str(value).startswith("/run/secrets/"), f"{name}.{key} holds a literal"
