"""The deploy flows' blue-green task on an ECS target: a real Prefect server (global concurrency limit, the
AwsCredentials block), moto_server on 127.0.0.1 (the image from the images stage becomes a task definition
revision, the listener weights step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_aws import AwsCredentials
from pydantic import SecretStr

from deployments.local_server import LocalServer
from shipyard.config.load import parse_config
from shipyard.release.engine import Outcome, ReleaseRequest
from shipyard.resources import opened
from tasks.cloud import backend_for
from tasks.deploy import blue_green
from tests.support.aws_standin import KEY_ID, REGION, SECRET, build_platform, ecs_target_yaml, moto_server
from tests.support.configs import API_APP
from tests.support.http_standin import healthy_app, serving

pytestmark = pytest.mark.slow

# max_p95_ms 10000: latency is judged in test_rollout's table; on a shared test machine a p95 measures the machine
# (a run of the whole suite saw 716 ms at 100% and rolled the first release back)
CONFIG = (
    API_APP
    + """\
environments:
  staging:
    rollout: {{steps: [25, 100], pause_seconds: 0.2, min_samples: 3, scale_down_delay_seconds: 0, max_p95_ms: 10000}}
    target:
{target}"""
)


@flow
def release(config_text: str, version: str, workspace: str) -> Outcome:
    config = parse_config(config_text, "shipyard.yaml")
    image = f"127.0.0.1:5000/platform/api:{version}@sha256:{'a' * 64}"  # what the images stage hands over
    request = ReleaseRequest("staging", "api", version, f"sha-{version}", image, "staging-deploy")
    with opened() as resources:  # what the deploy flows build at their entry and hand to the task
        backend = backend_for(config, "staging", Path(workspace), resources.home)
        return blue_green(config, request, resources.ledger, backend)


def test_the_flows_release_an_image_to_ecs_signed_by_the_block(
    tmp_path: Path, prefect_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "home"))  # the task's ledger: never the developer's own
    monkeypatch.delenv("SHIPYARD_LEDGER_URL", raising=False)
    with (
        moto_server(tmp_path / "moto.log") as endpoint,
        serving(healthy_app) as url,
        temporary_settings({PREFECT_API_URL: prefect_server.api_url}),
    ):
        platform = build_platform(endpoint)
        AwsCredentials(aws_access_key_id=KEY_ID, aws_secret_access_key=SecretStr(SECRET), region_name=REGION).save(
            "aws-staging", overwrite=True
        )
        text = CONFIG.format(target=ecs_target_yaml(platform, url, credentials_block="aws-staging"))
        first = release(text, "1.0.0", str(tmp_path))
        second = release(text, "1.1.0", str(tmp_path))
        APILogWorker.drain_all()  # the runs' logs reach this server, not whatever API is configured after the block
        assert (first.succeeded, second.succeeded) == (True, True), (first.reason, second.reason)
        assert (first.release.colour, second.release.colour) == ("green", "blue")
        assert platform.weights() == {"blue": 100, "green": 0}
        services = platform.services()
        definition = platform.client("ecs").describe_task_definition(taskDefinition=services["blue"][0])[
            "taskDefinition"
        ]
        assert definition["containerDefinitions"][0]["image"].endswith(f"api:1.1.0@sha256:{'a' * 64}")
        assert services["green"][1] == 0
