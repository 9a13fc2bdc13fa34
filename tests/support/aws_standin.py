"""AWS on 127.0.0.1: a real `moto_server` process (ECS, ELBv2, EC2, CloudWatch), and the user's platform in it.

The platform is what a team has before Shipyard deploys anything (as CodeDeploy expects): a VPC, an ALB with a
listener forwarding to two target groups (blue 100, green 0), an ECS cluster and a first task definition revision of
the app's family, made through boto3 like any other client.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from shipyard.files import free_port
from shipyard.runner import spawn, stop

REGION = "eu-west-1"
KEY_ID, SECRET = "AKIASHIPYARDSTANDIN", "stand-in-secret-never-logged"


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    # ECS rollouts are not simulated: with this set, services report their tasks running and rollouts COMPLETED.
    env = dict(os.environ, MOTO_ECS_SERVICE_RUNNING="2")
    process = spawn([str(moto), "-H", "127.0.0.1", "-p", str(port)], log=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop(process, "moto_server")


def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=REGION)


@dataclass(frozen=True)
class Platform:
    endpoint: str
    listener: str
    test_listener: str
    target_groups: dict[str, str]
    subnets: list[str]
    security_groups: list[str]
    first_revision: str

    def client(self, service: str) -> Any:
        return _client(self.endpoint, service)

    def weights(self, test: bool = False) -> dict[str, int]:
        """The (test) listener's weights per colour, read back from the server."""
        arn = self.test_listener if test else self.listener
        listener = self.client("elbv2").describe_listeners(ListenerArns=[arn])["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        colour = {arn: c for c, arn in self.target_groups.items()}
        return {colour[g["TargetGroupArn"]]: g["Weight"] for g in groups}

    def services(self) -> dict[str, tuple[str, int]]:
        """Task definition and desired count of each colour's service that exists."""
        found = self.client("ecs").describe_services(cluster="platform", services=["api-blue", "api-green"])
        return {
            s["serviceName"].removeprefix("api-"): (s["taskDefinition"], s["desiredCount"]) for s in found["services"]
        }

    def alarm(self, state: str) -> None:
        self.client("cloudwatch").set_alarm_state(AlarmName="api-5xx", StateValue=state, StateReason=f"test: {state}")


@functools.cache
def _client(endpoint: str, service: str) -> Any:
    """One client per service: a new session loads botocore's models again, 100+ ms holding the GIL, which the
    engine's probe in this same process would measure as the app's latency."""
    return session().client(service, endpoint_url=endpoint)


def build_platform(endpoint: str) -> Platform:
    ec2, elbv2, ecs, cloudwatch = (_client(endpoint, s) for s in ("ec2", "elbv2", "ecs", "cloudwatch"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="api", Description="api tasks", VpcId=vpc)["GroupId"]
    balancer = elbv2.create_load_balancer(Name="platform", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    target_groups = {
        colour: elbv2.create_target_group(
            Name=f"api-{colour}", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip", HealthCheckPath="/ready"
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")
    }
    forward = {
        "TargetGroups": [
            {"TargetGroupArn": target_groups["blue"], "Weight": 100},
            {"TargetGroupArn": target_groups["green"], "Weight": 0},
        ]
    }
    listener, test_listener = (
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "ForwardConfig": forward}],
        )["Listeners"][0]["ListenerArn"]
        for port in (80, 8443)  # production traffic, and CodeDeploy-style test traffic
    )
    ecs.create_cluster(clusterName="platform")
    first = ecs.register_task_definition(
        family="api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="2048",
        executionRoleArn="arn:aws:iam::123456789012:role/api-execution",
        containerDefinitions=[
            {
                "name": "api",
                "image": "127.0.0.1:5000/platform/api:0.9.0",
                "portMappings": [{"containerPort": 8000}],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "readonlyRootFilesystem": True,
                "user": "1001",
            },
            {"name": "log-router", "image": "127.0.0.1:5000/platform/fluent-bit:3", "essential": False},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    cloudwatch.put_metric_alarm(
        AlarmName="api-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="api-5xx", StateValue="OK", StateReason="quiet")
    return Platform(endpoint, listener, test_listener, target_groups, subnets, [group], first)


def ecs_target_yaml(platform: Platform, app_url: str, credentials_block: str | None = None) -> str:
    """The `target:` of an environment deploying the api to this platform (YAML flow style, one line per key)."""
    block = f"\n      credentials_block: {credentials_block}" if credentials_block else ""
    return f"""\
      backend: ecs
      cluster: platform
      region: {REGION}
      endpoint_url: {platform.endpoint}{block}
      apps:
        api:
          listener_arn: {platform.listener}
          target_groups: {{blue: {platform.target_groups["blue"]}, green: {platform.target_groups["green"]}}}
          container: api
          container_port: 8000
          desired_count: 2
          subnets: [{", ".join(platform.subnets)}]
          security_groups: [{", ".join(platform.security_groups)}]
          alarms: [api-5xx]
          test_listener_arn: {platform.test_listener}
          url: "{app_url}"
          preview_url: "{app_url}/test-listener"
"""
