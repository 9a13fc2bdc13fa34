"""Where an environment's releases run: this machine behind HAProxy, Kubernetes Deployments or ECS services behind
an ALB, each with the settings of the apps it hosts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from shipyard.config.base import Strict

Port = Annotated[int, Field(ge=1, le=65535)]


class LocalPorts(Strict):
    router: Port = Field(description="127.0.0.1 port the app's router (HAProxy) listens on: the app's address.")
    blue: Port = Field(description="127.0.0.1 port of the blue colour (its preview address).")
    green: Port = Field(description="127.0.0.1 port of the green colour (its preview address).")

    def colours(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}


class LocalTarget(Strict):
    backend: Literal["local"] = Field(description="Blue-green on this machine: colours are processes behind HAProxy.")
    ports: dict[str, LocalPorts] = Field(default_factory=dict, description="Ports per app deployed here.")

    def placed(self) -> list[str]:
        return list(self.ports)


class Addresses(Strict):
    url: str = Field(
        pattern=r"^https?://",
        description="Where the app's users reach it (load balancer, ingress): final smoke tests and the traffic "
        "analysis at each step go here.",
    )
    preview_url: str = Field(
        pattern=r"^https?://",
        description="Where the new colour answers before it takes traffic (ALB test listener, preview Service's "
        "ingress): smoke tests go here first.",
    )


class KubernetesApp(Addresses):
    manifest: str = Field(
        description="File (relative to the repository root) holding the app's Deployment, named after the app: "
        "<app>-blue and <app>-green are made from it."
    )


class KubernetesTarget(Strict):
    backend: Literal["kubernetes"] = Field(description="Blue-green Deployments switched by a Service selector.")
    namespace: str = Field(description="Namespace the app's Deployments and Services live in.")
    context: str | None = Field(None, description="kubeconfig context; default: in-cluster or current context.")
    traffic: Literal["selector", "replicas"] = Field(
        "selector",
        description="selector: the active Service <app> switches colour at once (all-or-nothing, steps collapse to "
        "100%); replicas: one Service selects both colours and steps are replica ratios (approximate weights).",
    )
    apps: dict[str, KubernetesApp] = Field(default_factory=dict, description="Apps deployed here.")

    def placed(self) -> list[str]:
        return list(self.apps)


class EcsApp(Addresses):
    listener_arn: str = Field(description="ALB listener whose forward action holds the two weighted target groups.")
    target_groups: dict[Literal["blue", "green"], str] = Field(description="Target group ARN per colour.")
    container: str = Field(description="Container of the task definition that runs the app's image.")
    container_port: int = Field(ge=1, le=65535, description="Port the container listens on behind the ALB.")
    desired_count: int = Field(2, ge=1, description="Tasks per colour while it runs.")
    subnets: list[str] = Field(default_factory=list, description="awsvpc subnets of new services.")
    security_groups: list[str] = Field(default_factory=list, description="awsvpc security groups of new services.")
    launch_type: Literal["FARGATE", "EC2"] = Field("FARGATE", description="Launch type of new services.")
    alarms: list[str] = Field(
        default_factory=list, description="CloudWatch alarms: any in ALARM during the rollout rolls it back."
    )
    test_listener_arn: str | None = Field(
        None,
        description="ALB test listener (CodeDeploy's test traffic route): forwarded to the new colour when it "
        "starts, so preview_url reaches it before it takes traffic.",
    )

    @field_validator("target_groups")
    @classmethod
    def _both_colours(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"blue", "green"}:
            raise ValueError("expected a target group for blue and one for green")
        return value


class EcsTarget(Strict):
    backend: Literal["ecs"] = Field(description="Blue-green ECS services behind weighted ALB target groups.")
    cluster: str = Field(description="ECS cluster name.")
    region: str = Field(description="AWS region.")
    endpoint_url: str | None = Field(None, description="AWS endpoint override (a stand-in such as moto).")
    credentials_block: str | None = Field(
        None, description="prefect-aws AwsCredentials block to sign with; default: boto3's own credential chain."
    )
    apps: dict[str, EcsApp] = Field(default_factory=dict, description="Apps deployed here.")

    def placed(self) -> list[str]:
        return list(self.apps)


Target = Annotated[LocalTarget | KubernetesTarget | EcsTarget, Field(discriminator="backend")]
