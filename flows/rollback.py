"""rollback: the emergency rollback as a deployment, so it can be run from the Prefect UI: the previous stable
release (from the ledger) back at 100% in seconds, no pipeline; signed by one of the environment's approvers."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from shipyard.home import Zone
from shipyard.pipeline import messages
from shipyard.policy.current import in_force
from shipyard.policy.governed import admitted, governed
from shipyard.release.rollback import RollbackResult, choose_target, emergency_rollback
from shipyard.release.signed import SignedCommand, signer_of
from shipyard.resources import opened
from tasks.cloud import backend_for
from tasks.repo import checked_out, read_config
from tasks.slack import notify, slack_notifier


@flow(name="rollback", flow_run_name="rollback {signed.app} in {signed.environment}")
def rollback(repo: str, signed: SignedCommand) -> RollbackResult:
    """signed: a rollback signed by one of the environment's approvers (`shipyard rollout sign rollback ...`), with
    to_version when not the previous stable release. shipyard.yaml (and a Kubernetes manifest) are read at the
    commit of the release being restored, the one that was approved: never at a ref the caller names, which anyone
    who can push a branch could write."""
    environment, app, to_version = signed.environment, signed.app, signed.to_version
    with opened(zone=Zone.PROTECTED) as resources:
        policy = in_force(resources.ledger).policy
        rules = admitted(policy, repo, environment, branch=None)
        actor = signer_of(resources.ledger, policy, signed, environment, app, "rollback")
        _, target = choose_target(resources.ledger, environment, app, to_version)
        with checked_out(repo, target.sha, resources.home, str(flow_run.get_id())) as (workspace, sha):
            config = governed(read_config(workspace, sha), environment, rules).config
            # Kubernetes reads its manifests from the checkout
            backend = backend_for(config, environment, Path(workspace), resources.home)
            result = emergency_rollback(resources.ledger, backend, environment, app, actor,
                                        f"{signed.reason} (via the rollback deployment)", to_version)  # fmt: skip
    for warning in result.warnings:
        get_run_logger().warning(warning)
    message = messages.emergency_rollback(environment, app, result.restored.version, result.replaced.version, actor,
                                          signed.reason)  # fmt: skip
    notify(slack_notifier(config), message, "rolled-back")
    return result
