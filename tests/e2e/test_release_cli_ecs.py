"""`shipyard deploy production --target ecs` and `shipyard rollback production --target ecs` from a terminal, against a
real moto_server on 127.0.0.1, signed with a prefect-aws AwsCredentials block stored on a real Prefect server.

The CLI runs with no AWS credentials in its environment or files, so the deploy can only work through the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from deployments.local_server import LocalServer
from shipyard.files import free_port
from tests.e2e.test_release_cli import shipyard
from tests.support.aws_standin import KEY_ID, REGION, SECRET, Platform, build_platform, ecs_target_yaml, moto_server
from tests.support.colours import ROOT
from tests.support.configs import LOCAL_PRODUCTION
from tests.support.http_standin import healthy_app, serving

pytestmark = pytest.mark.slow

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
CONFIG = (
    LOCAL_PRODUCTION
    + """\
    other_targets:
      - {first}
    rollout: {{max_p95_ms: 10000, steps: [10, 50, 100], pause_seconds: 0.5, min_samples: 5,
               scale_down_delay_seconds: 0}}
"""
)


@pytest.fixture
def stack(tmp_path: Path, prefect_server: LocalServer, shipyard_env: dict[str, str]) -> Iterator[Any]:
    with moto_server(tmp_path / "moto.log") as endpoint, serving(healthy_app) as app_url:
        platform = build_platform(endpoint)
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            AwsCredentials(aws_access_key_id=KEY_ID, aws_secret_access_key=SecretStr(SECRET), region_name=REGION).save(
                "aws-platform", overwrite=True
            )
        target = ecs_target_yaml(platform, app_url, credentials_block="aws-platform").strip()
        config = tmp_path / "shipyard.yaml"
        config.write_text(
            CONFIG.format(
                python=sys.executable,
                router=free_port(),
                blue=free_port(),
                green=free_port(),
                first=target.replace("\n", "\n  "),
            )
        )
        env = {k: v for k, v in shipyard_env.items() if not k.startswith("AWS_")}
        env |= {
            "SHIPYARD_HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(ROOT),
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups off this machine
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        env.pop("SHIPYARD_LEDGER_URL", None)
        yield config, env, platform


def deploy(config: Path, env: dict[str, str], version: str) -> subprocess.CompletedProcess[str]:
    image = f"127.0.0.1:5000/platform/api:{version}"
    args = ("--app", "api", "--version", version, "--sha", f"sha{version}", "--artifact", image, "--target", "ecs")
    return shipyard(config, env, "deploy", "production", *args)


def test_ecs_release_and_rollback_from_the_terminal(stack: tuple[Path, dict[str, str], Platform]) -> None:
    config, env, platform = stack
    first = deploy(config, env, "1.0.0")
    assert first.returncode == 0, first.stdout + first.stderr
    assert platform.weights() == {"blue": 0, "green": 100}
    v1 = platform.services()["green"][0]

    second = deploy(config, env, "1.1.0")
    assert second.returncode == 0, second.stdout + second.stderr
    # each step's line shows the listener's weights as read back before it; the final line after the last
    routed = re.findall(r"\[blue (\d+)%, green (\d+)%\]", second.stdout)
    assert ("10", "90") in routed and ("50", "50") in routed
    assert "api 1.1.0 promoted on blue" in second.stdout and "traffic now: blue 100%, green 0%" in second.stdout
    v2 = platform.services()["blue"][0]
    assert v2 != v1 and platform.weights() == {"blue": 100, "green": 0}

    status = shipyard(config, env, "status", "production", "--target", "ecs")
    assert status.returncode == 0 and "1.1.0 (blue)" in status.stdout, status.stdout + status.stderr
    assert "production@ecs" in status.stdout
    # the local target of the same environment keeps its own history: nothing of ECS's to roll back to there
    local = shipyard(config, env, "rollback", "production", "--app", "api", "--as", "carol", "--reason", "x")
    assert local.returncode == 2 and "no release of api serves in production" in local.stderr, local.stderr

    back = shipyard(
        config, env, "rollback", "production", "--target", "ecs", "--app", "api", "--as", "carol", "--reason", "5xx"
    )
    assert back.returncode == 0, back.stdout + back.stderr
    assert "1.0.0 is back at 100% on green" in back.stdout and f"artifact {v1}" in back.stdout
    assert platform.services() == {"green": (v1, 2), "blue": (v2, 0)}
    assert platform.weights() == {"blue": 0, "green": 100}
    for done in (first, second, status, back):
        assert SECRET not in done.stdout + done.stderr


def test_a_missing_credentials_block_or_target_is_a_clear_error(stack: tuple[Path, dict[str, str], Platform]) -> None:
    config, env, _ = stack
    config.write_text(config.read_text().replace("credentials_block: aws-platform", "credentials_block: nope"))
    done = deploy(config, env, "1.0.0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "credentials_block" in done.stderr and "nope" in done.stderr
    done = shipyard(config, env, "status", "production", "--target", "kubernetes")
    assert done.returncode == 2 and "has no 'kubernetes' target; its targets are: local, ecs" in done.stderr
