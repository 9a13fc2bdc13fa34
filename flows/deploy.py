"""staging-deploy: checks → images or packages → migrations → blue-green → Slack.
production-deploy: checks → images or packages → approval (suspended) → migrations → blue-green → GitHub → Slack.

The blue-green itself (health, smoke tests on the preview and at 100%, traffic steps with analysis, automatic
rollback) is the release engine's; these flows put it behind the checks and the approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Cancelled, Failed

from flows.pr_checks import release_checks
from shipyard import git
from shipyard.checks.report import ChecksFailed
from shipyard.clients.github import GitHubClient
from shipyard.clients.slack import SlackNotifier
from shipyard.config.schema import PipelineConfig
from shipyard.home import Zone
from shipyard.images.tags import release_version
from shipyard.ledger import Asked, DecisionKind, Ledger
from shipyard.pipeline import messages
from shipyard.pipeline.approval import People, superseded_by
from shipyard.pipeline.binding import Bound, mismatch
from shipyard.pipeline.candidate import Candidate
from shipyard.pipeline.prepared import Prepared
from shipyard.policy.current import InForce, in_force
from shipyard.policy.governed import admitted, governed
from shipyard.policy.model import EnvironmentPolicy, PolicyRefused
from shipyard.release import setup
from shipyard.release.engine import Outcome, ReleaseRequest
from shipyard.resources import Resources, opened
from tasks.approval_gate import Gate, approval_gate, ask
from tasks.cloud import backend_for
from tasks.deploy import blue_green, deployment_status, migrate_database, package_release
from tasks.github import change_logins, github_client
from tasks.once import remembered_model
from tasks.repo import checked_out, on_branch, read_config
from tasks.slack import notify, slack_notifier


@dataclass(frozen=True)
class DeployRun:
    """What every step of one deploy run works with, built once at the flow's entry and passed down."""

    config: PipelineConfig  # the commit's own, with the environment the policy defines
    policy: InForce
    rules: EnvironmentPolicy
    repo: str
    workspace: str
    sha: str
    branch: str
    environment: str
    resources: Resources
    slack: SlackNotifier | None


@contextmanager
def deploy_run(repo: str, sha: str, branch: str, environment: str, gated: bool) -> Iterator[DeployRun]:
    """The policy decides before any work whether this repository and branch may deploy to this environment, and
    with or without an approval (gated: the production-deploy flow). The config is the deployed commit's own, the
    one its approvers approve: never another ref's, which anyone who can push a branch could write."""
    with opened(zone=Zone.PROTECTED) as resources:
        policy = in_force(resources.ledger)
        rules = admitted(policy.policy, repo, environment, branch)
        if rules.approval != gated:
            flow_name = "production-deploy" if rules.approval else "staging-deploy"
            need = "requires" if rules.approval else "has no"
            raise PolicyRefused(f"the policy's {environment} {need} approval: it deploys with {flow_name}")
        with checked_out(repo, sha, resources.home, str(flow_run.get_id())) as (workspace, full_sha):
            on_branch(workspace, full_sha, branch)
            environed = governed(read_config(workspace, full_sha), environment, rules)
            for line in environed.overridden:
                get_run_logger().warning("the policy wins: %s", line)
            slack = slack_notifier(environed.config)
            yield DeployRun(environed.config, policy, rules, repo, workspace, full_sha, branch, environment, resources,
                            slack)  # fmt: skip


@flow(name="staging-deploy", flow_run_name="{environment} {sha:.12}")
def staging_deploy(repo: str, sha: str, branch: str = "staging", environment: str = "staging") -> list[Outcome] | State:
    """Checks, then the commit deployed to an environment without an approval gate (staging, dev)."""
    with deploy_run(repo, sha, branch, environment, gated=False) as run:
        prepared = _prepare_or_tell(run)
        candidate = _candidate(run, prepared)
        notify(run.slack, messages.started(candidate, "staging-deploy"), "started")
        outcomes = _cutover(run, candidate, prepared, steps=None, actor="staging-deploy", why=f"push to {branch}")
        return _report(run.slack, None, candidate, outcomes)


@flow(name="production-deploy", flow_run_name="{environment} {sha:.12}")
def production_deploy(
    repo: str,
    sha: str,
    branch: str = "main",
    environment: str = "production",
) -> list[Outcome] | State:
    """Checks, then approvals in the Prefect UI or signed from a terminal (the run is suspended meanwhile), then the
    blue-green of exactly what was approved."""
    run_id = str(flow_run.get_id())
    with deploy_run(repo, sha, branch, environment, gated=True) as run:
        ledger, github = run.resources.ledger, github_client(run.config, None)
        prepared = _prepare_or_tell(run)
        candidate = _candidate(run, prepared)
        notify(run.slack, messages.started(candidate, "production-deploy"), "started")
        bound = ask(ledger, candidate, Bound.of(prepared, run.policy.version), run.rules)
        logins = change_logins(github, run.sha) if github else ()
        gate = Gate(run.policy.policy, run.rules, People(git.people(Path(run.workspace), run.sha), logins))
        verdict = approval_gate(ledger, candidate, bound, gate, run.slack)
        if verdict.kind is DecisionKind.REJECTED:
            notify(run.slack, messages.failed(candidate, f"rejected: {verdict.reason}"), "rejected")
            return Failed(message=f"rejected: {verdict.reason}")
        newer = superseded_by(ledger.decisions(environment), run_id)
        if newer is not None:
            return _superseded(ledger, run.slack, candidate, run_id, newer.sha, newer.version)
        problem = mismatch(bound, prepared) or _released_before(ledger, run_id)
        if problem:
            return _mismatched(ledger, run.slack, candidate, run_id, problem)
        about = Asked(environment, run_id, candidate.sha, candidate.version)
        ledger.decide(about, DecisionKind.RELEASING, "pipeline", "pipeline", verdict.reason,
                      idempotency_key=f"{run_id}:releasing")  # fmt: skip
        deployment_status(github, candidate, "in_progress", f"approved: {verdict.reason}")
        outcomes = _cutover(run, candidate, prepared, verdict.steps, actor="production-deploy", why=verdict.reason)
        return _report(run.slack, github, candidate, outcomes)


def prepare(run: DeployRun) -> Prepared:
    """Checks (the branch rule's stages), then what each app ships: its image when the images stage built one,
    else its packaged folder. Done once per run: a resumed run finds it in the run's own store."""

    def work() -> Prepared:
        summary = release_checks(run.repo, run.sha, config_ref=run.sha, branch=run.branch)
        images = {r.spec.app: dict(r.details) for r in summary.results if r.spec.check == "image" and r.details}
        artifacts, digests, folders = {}, {}, {}
        for app in setup.apps_in(run.config, run.environment):
            # migrations run from the packaged folder, images or not
            folder = folders[app] = package_release(run.config, app, run.workspace, run.sha, run.resources.home)
            if app in images:
                artifacts[app], digests[app] = f"{images[app]['image']}@{images[app]['digest']}", images[app]["digest"]
            else:
                artifacts[app], digests[app] = folder.path, folder.digest
        name, email = git.author(Path(run.workspace), run.sha)
        return Prepared(
            checks=summary.headline(),
            artifacts=artifacts,
            digests=digests,
            folders=folders,
            image_sizes={app: f"{d['compressed']} of {d['budget']}" for app, d in images.items()},
            version=_version(run),
            changes=git.change_summary(Path(run.workspace), _serving_sha(run), run.sha),
            author_name=name,
            author_email=email,
        )

    return remembered_model("prepared", Prepared, work)


def _prepare_or_tell(run: DeployRun) -> Prepared:
    """prepare(), and when the checks stop the release there, Slack hears it before the run fails."""
    try:
        return prepare(run)
    except ChecksFailed as exc:
        candidate = Candidate(
            run.config.project, run.environment, "", run.sha, run.branch, "", (), run_url=flow_run.get_flow_run_ui_url()
        )
        notify(run.slack, messages.failed(candidate, f"checks did not pass: {exc}"), "checks-failed")
        raise


def _cutover(
    run: DeployRun,
    candidate: Candidate,
    prepared: Prepared,
    steps: tuple[int, ...] | None,
    actor: str,
    why: str,
) -> list[Outcome]:
    """Migrations (expand-only), then one blue-green per app; the first app that rolls back stops the rest."""
    backend = backend_for(run.config, run.environment, Path(run.workspace), run.resources.home)
    outcomes = []
    for app in candidate.apps:
        revision = migrate_database(run.config, candidate.environment, app, prepared.folders[app])
        request = ReleaseRequest(
            candidate.environment, app, candidate.version, candidate.sha, prepared.artifacts[app], actor, why,
            schema_revision=revision, artifact_digest=prepared.digests[app], run=str(flow_run.get_id()),
        )  # fmt: skip
        outcome = blue_green(run.config, request, run.resources.ledger, backend, list(steps) if steps else None)
        outcomes.append(outcome)
        if not outcome.succeeded:
            break
    return outcomes


def _report(
    slack: SlackNotifier | None, github: GitHubClient | None, candidate: Candidate, outcomes: list[Outcome]
) -> list[Outcome] | State:
    failed = [o for o in outcomes if not o.succeeded]
    if failed:
        reason = "; ".join(f"{o.release.app}: {o.reason}" for o in failed)
        for o in failed:
            notify(slack, messages.rolled_back(candidate, o.release.app, o.reason), f"rolled-back-{o.release.app}")
        deployment_status(github, candidate, "failure", f"rolled back: {reason}")
        return Failed(message=f"rolled back: {reason}", data=outcomes)
    lines = [f"{o.release.app} {o.release.version} on {o.release.colour}: {o.reason}" for o in outcomes]
    deployment_status(github, candidate, "success", f"{candidate.version} serving at 100%")
    notify(slack, messages.deployed(candidate, lines), "deployed")
    return outcomes


def _superseded(
    ledger: Ledger, slack: SlackNotifier | None, candidate: Candidate, run_id: str, sha: str, version: str
) -> State:
    reason = f"superseded by {version} ({sha[:12]}), approved after this run asked"
    about = Asked(candidate.environment, run_id, candidate.sha, candidate.version)
    ledger.decide(
        about, DecisionKind.SUPERSEDED, "pipeline", "pipeline", reason, idempotency_key=f"{run_id}:superseded"
    )
    notify(slack, messages.superseded(candidate, sha, version), "superseded")
    return Cancelled(message=reason)


def _released_before(ledger: Ledger, run_id: str) -> str:
    """A run cuts over once: the same run started again (a retry, or its state forced back by an API user) would
    otherwise release again what its approvers approved once, a release since rolled back included."""
    if ledger.decision(f"{run_id}:releasing") is None:
        return ""
    return "this run already released what was approved once; a new release needs a new run and its approvals"


def _mismatched(ledger: Ledger, slack: SlackNotifier | None, candidate: Candidate, run_id: str, problem: str) -> State:
    reason = f"not deployed: {problem}"
    about = Asked(candidate.environment, run_id, candidate.sha, candidate.version)
    ledger.decide(about, DecisionKind.MISMATCH, "pipeline", "pipeline", reason, idempotency_key=f"{run_id}:mismatch")
    notify(slack, messages.failed(candidate, reason), "mismatch")
    return Failed(message=reason)


def _candidate(run: DeployRun, prepared: Prepared) -> Candidate:
    return Candidate(
        project=run.config.project,
        environment=run.environment,
        version=prepared.version,
        sha=run.sha,
        branch=run.branch,
        author=prepared.author,
        apps=tuple(prepared.artifacts),
        run_url=flow_run.get_flow_run_ui_url(),
        checks=prepared.checks,
        changes=prepared.changes,
        image_sizes=prepared.image_sizes,
    )


def _version(run: DeployRun) -> str:
    version = release_version(git.tags_at(Path(run.workspace), run.sha), run.config.images.version)
    return (version or f"0.0.0+{run.sha[:12]}").removeprefix("v")


def _serving_sha(run: DeployRun) -> str | None:
    for app in setup.apps_in(run.config, run.environment):
        current = run.resources.ledger.current(run.environment, app)
        if current is not None:
            return current.sha
    return None
