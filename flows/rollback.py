"""rollback: the emergency rollback as a deployment, so it can be run from the Prefect UI: the previous stable
release (from the ledger) back at 100% in seconds, no pipeline; signed by one of the environment's approvers."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from shipyard.home import Zone
from shipyard.ledger import Ledger
from shipyard.ledger.store import ReleaseView
from shipyard.pipeline import messages
from shipyard.policy.current import in_force
from shipyard.policy.governed import admitted, governed
from shipyard.release.progress import ask_to_abort, in_progress, subject_of
from shipyard.release.rollback import RollbackResult, choose_target, emergency_rollback
from shipyard.release.signed import SignedCommand, signer_of
from shipyard.resources import opened
from tasks.cloud import backend_for
from tasks.repo import checked_out, read_config
from tasks.slack import notify, slack_notifier


@flow(name="rollback", flow_run_name="rollback {signed.app} in {signed.environment}")
def rollback(signed: SignedCommand) -> RollbackResult:
    """signed: a rollback signed by one of the environment's approvers (`shipyard rollout sign rollback ...`) for the
    release it replaces, with to_version when not the previous stable release. Verified (and its nonce spent) before
    anything else; the repository is the policy's. shipyard.yaml (and a Kubernetes manifest) are read at the commit
    of the release being restored, the one that was approved: never at a ref the caller names."""
    environment, app, to_version = signed.environment, signed.app, signed.to_version
    reason = f"{signed.reason} (via the rollback deployment)"
    with opened(zone=Zone.PROTECTED) as resources:
        ledger = resources.ledger
        policy = in_force(ledger).policy
        replaced = subject_of(ledger, environment, app, "rollback")
        actor = signer_of(ledger, policy, signed, environment, app, "rollback", release=replaced)
        rules = admitted(policy, policy.repository, environment, branch=None)
        asked: set[int] = set()
        if to_version is None:  # the lock's holder is asked to abort before the checkout
            ask_to_abort(ledger, environment, app, actor, f"emergency rollback: {reason}", asked)
        restored = _restored(ledger, environment, app, to_version)
        with checked_out(policy.repository, restored.sha, resources.home, str(flow_run.get_id())) as (workspace, sha):
            config = governed(read_config(workspace, sha), environment, rules).config
            # Kubernetes reads its manifests from the checkout
            backend = backend_for(config, environment, Path(workspace), resources.home)
            result = emergency_rollback(ledger, backend, environment, app, actor, reason, to_version, asked=asked)
    for warning in result.warnings:
        get_run_logger().warning(warning)
    message = messages.emergency_rollback(environment, app, result.restored.version, result.replaced.version, actor,
                                          signed.reason)  # fmt: skip
    notify(slack_notifier(config), message, "rolled-back")
    return result


def _restored(ledger: Ledger, environment: str, app: str, to_version: str | None) -> ReleaseView:
    """The release whose commit's config the rollback uses: the one to_version names, else the release serving
    before an unfinished one (its abort is the rollback), else the previous stable one."""
    unfinished = in_progress(ledger, environment, app)
    if to_version is None and unfinished is not None:
        return ledger.current(environment, app) or unfinished
    return choose_target(ledger, environment, app, to_version)[1]
