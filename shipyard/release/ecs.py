"""AWS ECS blue-green, as CodeDeploy does it: two services (`<app>-blue`, `<app>-green`), one per target group, behind
one ALB listener whose forward action holds both target groups with weights.

A release's artifact is a task definition ARN, so the ledger records exactly what ran and a rollback puts the previous
one back with `update-service`. An image reference is first registered as a new revision of the app's family, copied
from its latest revision (the user's own settings: roles, CPU, memory, logging) with the image and the release's
identity swapped in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shipyard.config.targets import EcsApp
from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.store import ReleaseView
from shipyard.release.backend import identity_env, require_image
from shipyard.release.rollout import Capabilities, Health

# What register_task_definition accepts back from describe_task_definition (the rest is AWS's bookkeeping).
_REGISTRABLE = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """AWS errors as ShipyardError naming the call (botocore messages carry no credentials)."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ShipyardError(f"AWS {what}: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise ShipyardError(f"AWS {what}: {exc}") from None


def is_task_definition(artifact: str) -> bool:
    return artifact.startswith("arn:aws") and ":task-definition/" in artifact


class EcsBackend:
    capabilities = Capabilities(weighted=True)

    def __init__(self, ecs: Any, elbv2: Any, cloudwatch: Any, cluster: str, apps: dict[str, EcsApp]) -> None:
        self.ecs = ecs
        self.elbv2 = elbv2
        self.cloudwatch = cloudwatch
        self.cluster = cluster
        self.apps = apps

    def prepare(self, app: str, artifact: str, version: str, sha: str) -> str:
        """The task definition this release runs: the ARN given, or a revision registered for the image given."""
        settings = self._app(app)
        if is_task_definition(artifact):
            with aws_call(f"describe-task-definition {artifact}"):
                self.ecs.describe_task_definition(taskDefinition=artifact)
            return artifact
        require_image(app, artifact, "ECS")
        latest = self._latest_revision(app)
        container = _container(latest, settings.container, app)
        identity = identity_env(version, sha, artifact)
        if container.get("image") == artifact and identity.items() <= _env(container).items():
            return str(latest["taskDefinitionArn"])  # a re-run of the same release: no second revision
        definition = {key: latest[key] for key in _REGISTRABLE if key in latest}
        definition["containerDefinitions"] = [
            _with_image(c, artifact, identity) if c["name"] == settings.container else c
            for c in latest["containerDefinitions"]
        ]
        with aws_call(f"register-task-definition {app}"):
            registered = self.ecs.register_task_definition(**definition)["taskDefinition"]
        return str(registered["taskDefinitionArn"])

    def start(self, app: str, colour: str, release: ReleaseView) -> None:
        settings = self._app(app)
        if not is_task_definition(release.artifact):
            raise InputError(
                f"{app} {release.version}: the ECS backend runs task definitions, got artifact {release.artifact!r}"
            )
        service = self._service(app, colour)
        name = f"{app}-{colour}"
        if service is not None:
            with aws_call(f"update-service {name}"):
                self.ecs.update_service(
                    cluster=self.cluster,
                    service=name,
                    taskDefinition=release.artifact,
                    desiredCount=settings.desired_count,
                )
        else:
            self._create_service(settings, app, colour, release.artifact)
        if settings.test_listener_arn:
            self._forward(settings, settings.test_listener_arn, {colour: 100})

    def _create_service(self, settings: EcsApp, app: str, colour: str, task_definition: str) -> None:
        extra: dict[str, Any] = {}
        if settings.subnets:
            extra["networkConfiguration"] = {
                "awsvpcConfiguration": {"subnets": settings.subnets, "securityGroups": settings.security_groups}
            }
        with aws_call(f"create-service {app}-{colour}"):
            self.ecs.create_service(
                cluster=self.cluster,
                serviceName=f"{app}-{colour}",
                taskDefinition=task_definition,
                desiredCount=settings.desired_count,
                launchType=settings.launch_type,
                loadBalancers=[
                    {
                        "targetGroupArn": settings.target_groups[colour],  # type: ignore[index]
                        "containerName": settings.container,
                        "containerPort": settings.container_port,
                    }
                ],
                **extra,
            )

    def stop(self, app: str, colour: str) -> None:
        if self._service(app, colour) is None:
            return
        with aws_call(f"update-service {app}-{colour}"):
            self.ecs.update_service(cluster=self.cluster, service=f"{app}-{colour}", desiredCount=0)

    def running(self, app: str, colour: str) -> bool:
        service = self._service(app, colour)
        return service is not None and service["desiredCount"] > 0

    def health(self, app: str, colour: str) -> Health:
        service = self._service(app, colour)
        if service is None or service["desiredCount"] == 0:
            return Health.UNKNOWN
        deployments: list[dict[str, Any]] = service.get("deployments", [])
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        if primary.get("rolloutState") == "FAILED":
            return Health.UNHEALTHY
        if service["runningCount"] < service["desiredCount"] or primary.get("rolloutState") == "IN_PROGRESS":
            return Health.UNKNOWN
        target_group = self._app(app).target_groups[colour]  # type: ignore[index]
        with aws_call(f"describe-target-health {app}-{colour}"):
            targets = self.elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
        states = {t["TargetHealth"]["State"] for t in targets}
        if "unhealthy" in states:
            return Health.UNHEALTHY
        return Health.HEALTHY if states <= {"healthy"} else Health.UNKNOWN

    def weights(self, app: str) -> dict[str, int]:
        settings = self._app(app)
        by_arn = {arn: colour for colour, arn in settings.target_groups.items()}
        groups = self._forward_action(settings.listener_arn).get("ForwardConfig", {}).get("TargetGroups", [])
        total = sum(g.get("Weight", 0) for g in groups)
        weights: dict[str, int] = dict.fromkeys(settings.target_groups, 0)
        for group in groups:
            colour = by_arn.get(group["TargetGroupArn"])
            if colour is not None and total:
                weights[colour] = round(100 * group.get("Weight", 0) / total)
        return weights

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        settings = self._app(app)
        self._forward(settings, settings.listener_arn, weights)

    def alarm(self, app: str) -> str | None:
        """Why the rollout must stop now: a configured CloudWatch alarm in ALARM, as CodeDeploy's auto-rollback."""
        names = self._app(app).alarms
        if not names:
            return None
        with aws_call("describe-alarms"):
            alarms = self.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
        missing = sorted(set(names) - {a["AlarmName"] for a in alarms})
        if missing:
            raise InputError(f"environments.*.target.apps.{app}.alarms: no such CloudWatch alarm: {', '.join(missing)}")
        firing = [a for a in alarms if a["StateValue"] == "ALARM"]
        if not firing:
            return None
        return "; ".join(f"CloudWatch alarm {a['AlarmName']} in ALARM: {a.get('StateReason', '')}" for a in firing)

    def preview_url(self, app: str, colour: str) -> str:
        return self._app(app).preview_url

    def router_url(self, app: str) -> str:
        return self._app(app).url

    def _app(self, app: str) -> EcsApp:
        try:
            return self.apps[app]
        except KeyError:
            raise InputError(f"{app} is not deployed to ECS here: no target.apps.{app}") from None

    def _service(self, app: str, colour: str) -> dict[str, Any] | None:
        with aws_call(f"describe-services {app}-{colour}"):
            found = self.ecs.describe_services(cluster=self.cluster, services=[f"{app}-{colour}"])["services"]
        active = [s for s in found if s.get("status") == "ACTIVE"]
        return active[0] if active else None

    def _forward(self, settings: EcsApp, listener: str, weights: dict[str, int]) -> None:
        """The listener's forward action with these weights per colour (its other settings kept)."""
        forward = dict(self._forward_action(listener).get("ForwardConfig", {}))
        forward["TargetGroups"] = [
            {"TargetGroupArn": arn, "Weight": weights.get(colour, 0)} for colour, arn in settings.target_groups.items()
        ]
        with aws_call(f"modify-listener {listener}"):
            self.elbv2.modify_listener(
                ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": forward}]
            )

    def _forward_action(self, listener: str) -> dict[str, Any]:
        with aws_call(f"describe-listeners {listener}"):
            found = self.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]
        forward = [a for a in found["DefaultActions"] if a["Type"] == "forward"]
        if not forward:
            raise ShipyardError(f"listener {listener} has no forward action to hold the target groups")
        return dict(forward[0])

    def _latest_revision(self, app: str) -> dict[str, Any]:
        try:
            with aws_call(f"describe-task-definition {app}"):
                return dict(self.ecs.describe_task_definition(taskDefinition=app)["taskDefinition"])
        except ShipyardError as exc:
            raise InputError(
                f"no task definition family {app!r} to copy the rest of the settings from ({exc}); register one first"
            ) from None


def _container(definition: dict[str, Any], name: str, app: str) -> dict[str, Any]:
    for container in definition["containerDefinitions"]:
        if container["name"] == name:
            return dict(container)
    names = ", ".join(c["name"] for c in definition["containerDefinitions"])
    raise InputError(
        f"target.apps.{app}.container: {definition['taskDefinitionArn']} has no container {name!r} ({names})"
    )


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


def _with_image(container: dict[str, Any], image: str, identity: dict[str, str]) -> dict[str, Any]:
    env = _env(container) | identity
    return container | {"image": image, "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]}
