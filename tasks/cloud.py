"""An environment's deploy backend with what Prefect keeps for it: the prefect-aws AwsCredentials block an ECS
target names signs its boto3 clients. Used by the flows and by `shipyard deploy/rollback/status` alike."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from shipyard.config.schema import PipelineConfig
from shipyard.config.targets import EcsTarget
from shipyard.errors import InputError
from shipyard.home import Home
from shipyard.release import setup
from shipyard.release.backend import Backend


def backend_for(config: PipelineConfig, environment: str, root: Path, home: Home, target: str | None = None) -> Backend:
    """root: the repository checkout (Kubernetes manifests are read from it)."""
    chosen = setup.target_of(config, environment, target)
    session = None
    if isinstance(chosen, EcsTarget) and chosen.credentials_block:
        from prefect_aws import AwsCredentials

        try:
            credentials = cast(AwsCredentials, AwsCredentials.load(chosen.credentials_block))
        except ValueError as exc:
            raise InputError(f"environments.{environment}: credentials_block: {exc}") from None
        session = credentials.get_boto3_session()
    connections = setup.Connections(root=root, aws_session=session)
    return setup.backend_for(config, environment, home, target, connections)
