"""Which target, which apps, which address: the release engine's parts picked from the config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.config import ConfigError
from shipyard.config.load import parse_config
from shipyard.errors import InputError
from shipyard.home import Home
from shipyard.release import setup
from tests.support.configs import API_APP

CONFIG = (
    API_APP
    + """\
    serve: {command: "serve {port}"}
  worker:
    path: apps/worker
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks: {lint: ruff check .}
environments:
  production:
    target:
      backend: local
      ports:
        api: {router: 18080, blue: 18081, green: 18082}
    other_targets:
      - backend: ecs
        cluster: platform
        region: eu-west-1
        apps:
          worker:
            listener_arn: arn:listener
            target_groups: {blue: arn:blue, green: arn:green}
            container: worker
            container_port: 8000
            url: https://worker.example.test
            preview_url: https://worker-preview.example.test
"""
)


def test_targets_and_their_apps() -> None:
    config = parse_config(CONFIG, "shipyard.yaml")
    assert setup.target_of(config, "production").backend == "local"
    assert setup.target_of(config, "production", "ecs").backend == "ecs"
    assert setup.apps_in(config, "production") == ["api"]
    assert setup.apps_in(config, "production", "ecs") == ["worker"]  # a cloud target runs what it lists
    assert setup.ledger_environment(config, "production") == "production"
    assert setup.ledger_environment(config, "production", "local") == "production"
    assert setup.ledger_environment(config, "production", "ecs") == "production@ecs"  # its own release history
    with pytest.raises(InputError, match="has no 'kubernetes' target; its targets are: local, ecs"):
        setup.target_of(config, "production", "kubernetes")


def test_an_apps_address_is_its_router_locally_and_its_configured_url_in_the_cloud(tmp_path: Path) -> None:
    config = parse_config(CONFIG, "shipyard.yaml")
    assert setup.target_url(config, "production", "api", Home(tmp_path)) == "http://127.0.0.1:18080"
    data = yaml.safe_load(CONFIG)
    env = data["environments"]["production"]
    env["target"], env["other_targets"] = env["other_targets"][0], [env["target"]]
    cloud_first = parse_config(yaml.safe_dump(data), "shipyard.yaml")
    assert setup.target_url(cloud_first, "production", "worker", Home(tmp_path)) == "https://worker.example.test"
    with pytest.raises(InputError, match="api is not deployed there"):
        setup.target_url(cloud_first, "production", "api", Home(tmp_path))


def test_two_targets_of_one_backend_are_refused() -> None:
    doubled = CONFIG.replace("      - backend: ecs", "      - backend: local\n      - backend: ecs")
    with pytest.raises(ConfigError, match="name the same backend twice"):
        parse_config(doubled, "shipyard.yaml")
