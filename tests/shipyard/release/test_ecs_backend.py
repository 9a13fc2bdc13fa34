"""The ECS backend through boto3 against a real moto_server on 127.0.0.1: weights and task definitions are read back
from the server after every engine step, with a client of the test's own.

moto keeps the control plane (services, task definitions, listeners, alarms) but serves no traffic: the app's
address (`url`, `preview_url`) is a stand-in HTTP server here, as an ALB's DNS name would be in AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shipyard.config.load import parse_config
from shipyard.errors import InputError
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.release import setup
from shipyard.release.ecs import EcsBackend
from shipyard.release.engine import Engine, Outcome, ReleaseRequest
from shipyard.release.rollback import emergency_rollback
from shipyard.release.rollout import Decision, RolloutSpec, Step
from shipyard.release.smoke import SmokeCheck
from tests.support.aws_standin import Platform, build_platform, ecs_target_yaml, moto_server, session
from tests.support.configs import ONE_TARGET
from tests.support.http_standin import healthy_app, serving

SPEC = RolloutSpec(
    steps=(10, 50, 100),
    pause=timedelta(seconds=0.3),
    max_p95_ms=10_000,  # latency is judged in test_rollout's table; here a p95 measures the shared machine
    min_samples=5,
    health_timeout=timedelta(seconds=5),
    scale_down_delay=timedelta(seconds=0),
)


class Aws:
    def __init__(self, platform: Platform, tmp_path: Path, app_url: str) -> None:
        self.platform = platform
        config = parse_config(ONE_TARGET.format(target=ecs_target_yaml(platform, app_url)), "shipyard.yaml")
        connections = setup.Connections(aws_session=session())
        backend = setup.backend_for(config, "production", Home(tmp_path), connections=connections)
        assert isinstance(backend, EcsBackend)
        self.backend = backend
        self.ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        self.ledger.migrate()
        self.seen: list[tuple[Step, dict[str, int], dict[str, tuple[str, int]]]] = []
        self.previews: list[dict[str, int]] = []  # the test listener at each preview smoke test
        self.during: dict[Step, Any] = {}

    def record(self, decision: Decision) -> None:
        self.seen.append((decision.step, self.platform.weights(), self.platform.services()))
        if decision.step is Step.SMOKE_PREVIEW:
            self.previews.append(self.platform.weights(test=True))
        action = self.during.pop(decision.step, None)
        if action:
            action()

    def deploy(self, version: str) -> Outcome:
        self.seen.clear()
        engine = Engine(self.ledger, self.backend, SPEC, [SmokeCheck("/health")], poll=0.05, on_step=self.record)
        image = f"127.0.0.1:5000/platform/api:{version}"
        artifact = self.backend.prepare("api", image, version, f"sha-{version}")
        return engine.deploy(ReleaseRequest("production", "api", version, f"sha-{version}", artifact, "ci"))

    def after(self, step: Step) -> list[dict[str, int]]:
        """Weights read back right after each time the engine took this step."""
        return [self.seen[i + 1][1] for i, (s, _, _) in enumerate(self.seen) if s is step and i + 1 < len(self.seen)]


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def aws(moto: str, tmp_path: Path) -> Iterator[Aws]:
    import httpx

    httpx.post(f"{moto}/moto-api/reset")  # every test starts from the user's platform only
    with serving(healthy_app) as app_url:
        yield Aws(build_platform(moto), tmp_path, app_url)


def test_blue_green_steps_the_listener_weights_and_keeps_the_old_task_definition(aws: Aws) -> None:
    first = aws.deploy("1.0.0")
    assert first.succeeded, first.reason
    v1 = first.release.artifact
    assert aws.platform.weights() == {"blue": 0, "green": 100}  # first release: straight to 100 on the idle colour
    assert aws.platform.services()["green"] == (v1, 2)

    second = aws.deploy("1.1.0")
    assert second.succeeded, second.reason
    v2 = second.release.artifact
    assert v2 != v1 and v2.startswith("arn:aws:ecs:") and ":task-definition/api:" in v2
    # preview smoke tests ran with the test listener on the new colour and all real traffic on the old one
    assert aws.previews[-1] == {"blue": 100, "green": 0}
    assert [w for step, w, _ in aws.seen if step is Step.SMOKE_PREVIEW] == [{"blue": 0, "green": 100}]
    assert aws.after(Step.SHIFT) == [
        {"blue": 10, "green": 90},
        {"blue": 50, "green": 50},
        {"blue": 100, "green": 0},
    ]
    # the candidate's service ran v2 from its start, the stable one kept v1 until scaled down
    during = [services for step, _, services in aws.seen if step is Step.SHIFT]
    assert all(s["blue"] == (v2, 2) and s["green"] == (v1, 2) for s in during)
    assert aws.platform.services() == {"blue": (v2, 2), "green": (v1, 0)}


def test_an_image_becomes_a_revision_of_the_users_task_definition(aws: Aws) -> None:
    ecs = aws.platform.client("ecs")
    arn = aws.backend.prepare("api", "127.0.0.1:5000/platform/api:2.0.0", "2.0.0", "abc123")
    assert aws.backend.prepare("api", "127.0.0.1:5000/platform/api:2.0.0", "2.0.0", "abc123") == arn  # idempotent
    revision = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    api, router = revision["containerDefinitions"]
    assert api["image"] == "127.0.0.1:5000/platform/api:2.0.0"
    env = {e["name"]: e["value"] for e in api["environment"]}
    assert env == {"LOG_LEVEL": "info", "APP_VERSION": "2.0.0", "GIT_SHA": "abc123", "SHIPYARD_ARTIFACT": api["image"]}
    assert api["readonlyRootFilesystem"] is True and api["user"] == "1001"
    assert router["image"].endswith("fluent-bit:3")  # sidecars untouched
    assert (revision["cpu"], revision["memory"], revision["executionRoleArn"]) == (
        "1024",
        "2048",
        "arn:aws:iam::123456789012:role/api-execution",
    )
    assert aws.backend.prepare("api", aws.platform.first_revision, "0.9.0", "x") == aws.platform.first_revision


def test_a_cloudwatch_alarm_during_a_step_rolls_the_weights_back(aws: Aws) -> None:
    assert aws.deploy("1.0.0").succeeded
    aws.during[Step.SHIFT] = lambda: aws.platform.alarm("ALARM")  # fires once traffic starts moving
    outcome = aws.deploy("1.1.0-noisy")
    assert not outcome.succeeded
    assert "CloudWatch alarm api-5xx in ALARM" in outcome.reason
    assert aws.after(Step.SHIFT) == [{"blue": 10, "green": 90}]
    assert aws.after(Step.ROLL_BACK) == [{"blue": 0, "green": 100}]
    assert aws.platform.weights() == {"blue": 0, "green": 100}
    assert aws.platform.services()["blue"][1] == 0  # the candidate stopped
    current = aws.ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"


def test_emergency_rollback_updates_the_service_to_the_previous_task_definition(aws: Aws) -> None:
    v1 = aws.deploy("1.0.0").release.artifact
    v2 = aws.deploy("1.1.0").release.artifact
    assert aws.platform.services() == {"green": (v1, 0), "blue": (v2, 2)}
    result = emergency_rollback(aws.ledger, aws.backend, "production", "api", "carol", "5xx after 1.1.0", None, 10)
    assert (result.restored.version, result.restored.artifact, result.colour) == ("1.0.0", v1, "green")
    assert aws.platform.services() == {"green": (v1, 2), "blue": (v2, 0)}
    assert aws.platform.weights() == {"blue": 0, "green": 100}


def test_an_alarm_named_in_config_that_does_not_exist_is_a_config_error(aws: Aws) -> None:
    aws.platform.client("cloudwatch").delete_alarms(AlarmNames=["api-5xx"])
    with pytest.raises(InputError, match=r"target.apps.api.alarms: no such CloudWatch alarm: api-5xx"):
        aws.backend.alarm("api")


def test_a_release_folder_is_refused_with_what_to_do_instead(aws: Aws, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"api: the ECS backend runs images, got .*images.apps.api"):
        aws.backend.prepare("api", str(tmp_path), "1.0.0", "x")


def test_a_family_that_was_never_registered_is_a_clear_error(aws: Aws) -> None:
    aws.backend.apps["web"] = aws.backend.apps["api"]
    with pytest.raises(InputError, match=r"no task definition family 'web'"):
        aws.backend.prepare("web", "127.0.0.1:5000/platform/web:1.0.0", "1.0.0", "x")
