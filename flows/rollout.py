"""rollout-command: an operator's command on a release (abort, promote, promote-full, pause, resume, retry,
abandon) from the Prefect UI or API, the same as `shipyard rollout ...`. It takes a signed command (`shipyard rollout
sign`), verified against the environment's approvers in the policy: a Prefect API user cannot give one in someone
else's name, replay one, or turn one for staging on production."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed

from shipyard.errors import InputError
from shipyard.home import Zone
from shipyard.policy.current import in_force
from shipyard.policy.governed import admitted, governed
from shipyard.release import control, progress, setup
from shipyard.release.engine import Engine
from shipyard.release.signed import SignedCommand, signer_of
from shipyard.resources import opened
from tasks.cloud import backend_for
from tasks.repo import checked_out, read_config


@flow(name="rollout-command", flow_run_name="{signed.command} {signed.app} in {signed.environment}")
def rollout_command(signed: SignedCommand) -> str | State:
    """Verified (and its nonce spent) before anything else, for the release it was signed for; the repository is the
    policy's. shipyard.yaml (the rollout's analysis, the smoke checks, the target) is read at the commit of that
    release, the one that was approved, for when this command runs that release itself."""
    environment, app, command = signed.environment, signed.app, signed.command
    with opened(zone=Zone.PROTECTED) as resources:
        ledger = resources.ledger
        policy = in_force(ledger).policy
        release = progress.subject_of(ledger, environment, app, command)
        actor = signer_of(ledger, policy, signed, environment, app, command, release=release)
        rules = admitted(policy, policy.repository, environment, branch=None)
        if release is None:
            raise InputError(f"no release of {app} is in progress in {environment}: nothing to {command}")
        with checked_out(policy.repository, release.sha, resources.home, str(flow_run.get_id())) as (workspace, sha):
            config = governed(read_config(workspace, sha), environment, rules).config
            backend = backend_for(config, environment, Path(workspace), resources.home)
            engine = Engine(ledger, backend, setup.rollout_spec(config, environment), setup.smoke_checks(config, app))
            done = control.carry_out(ledger, engine, environment, app, command, actor, signed.reason)
    get_run_logger().info("%s (signed by %s)", done.message(), actor)
    if done.outcome is not None and not done.outcome.succeeded and signed.command not in ("abort", "abandon"):
        return Failed(message=done.message())  # a retry, or a release this command ran, rolled back
    return done.message()
