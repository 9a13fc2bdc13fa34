"""nightly (cron 0 2 * * * UTC): full test suite and security audit of the branch head, uncached → load test
against the nightly environment → report with trends against the last nights → Slack."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed

from flows.pr_checks import release_checks
from shipyard.checks.model import Status
from shipyard.checks.report import ChecksFailed, Summary
from shipyard.home import Home, Zone
from shipyard.ledger.store import NightlyView
from shipyard.nightly.load import LoadVerdict
from shipyard.nightly.report import render
from shipyard.pipeline import messages
from shipyard.resources import opened
from tasks.nightly import publish_report, run_load_test
from tasks.repo import checked_out, read_config
from tasks.slack import notify, slack_notifier

SUITE = ["quality", "security", "database"]


@flow(name="nightly", flow_run_name="nightly {branch}")
def nightly(repo: str, branch: str = "main") -> NightlyView | State:
    """repo: the repository to test; branch: whose head (its branch rule decides which checks are required)."""
    run_id = str(flow_run.get_id())
    home = Home.from_env(Zone.PROTECTED)
    with checked_out(repo, f"origin/{branch}", home, run_id) as (workspace, sha):
        config = read_config(workspace, sha)
    reports = str(home.reports(run_id))
    summary, headline = full_suite(repo, sha, branch)
    load = run_load_test(config, reports, home)
    tonight = _tonight(run_id, config.project, branch, sha, summary, headline, load)
    with opened(home) as resources:  # the ledger only for its two calls, not across the suite and the load test
        history = [n for n in resources.ledger.nightlies(config.project) if n.flow_run_id != run_id]
        resources.ledger.record_nightly(tonight)
    rows = summary.table() if summary else []
    publish_report(render(tonight, history, rows, load.summary if load else ""), reports)
    lines = [f"*Checks:* {headline}", f"*Load test:* {load.status}: {load.summary}" if load else "*Load test:* -"]
    notify(slack_notifier(config), messages.nightly(config.project, _word(tonight), lines,
                                                    flow_run.get_flow_run_ui_url()), "nightly")  # fmt: skip
    if not tonight.passed:
        return Failed(message=f"nightly failed: {headline}; load test: {load.summary if load else '-'}")
    return tonight


def full_suite(repo: str, sha: str, branch: str) -> tuple[Summary | None, str]:
    """Every check of every app and the security audit, none from the cache; a failure is a result, not a crash."""
    state = release_checks(repo, sha, branch=branch, stages=SUITE, refresh_cache=True, return_state=True)
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, Summary):
        return outcome, outcome.headline()
    if isinstance(outcome, ChecksFailed):
        return outcome.summary, outcome.summary.headline()
    return None, f"the suite could not run: {outcome}"


def _tonight(
    run_id: str, project: str, branch: str, sha: str, summary: Summary | None, headline: str, load: LoadVerdict | None
) -> NightlyView:
    def count(status: Status) -> int:
        return summary.count(status) if summary else 0

    result = load.result if load else None
    return NightlyView(
        flow_run_id=run_id,
        project=project,
        branch=branch,
        sha=sha,
        passed=bool(summary and summary.passed) and (load is None or load.status == "passed"),
        checks_passed=count(Status.PASSED),
        checks_failed=count(Status.FAILED),
        checks_unavailable=count(Status.UNAVAILABLE),
        load_status=load.status if load else None,
        load_requests=result.requests if result else None,
        load_error_rate=result.error_rate if result else None,
        load_p95_ms=result.p95_ms if result else None,
        headline=headline,
        at=datetime.now(UTC),
    )


def _word(night: NightlyView) -> str:
    return "all passed" if night.passed else "FAILED"
