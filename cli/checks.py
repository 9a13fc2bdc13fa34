"""`shipyard run pr-checks`: the pr-checks flow in this process, each check shown as it runs, passes or fails."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import uuid
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import EXIT_FAILED, EXIT_PASSED, EXIT_TERMINATED, err, exit_for, group, out
from shipyard.checks.report import ChecksFailed, Summary
from shipyard.home import Home

commands = group("Run a pipeline now, in this process, with live progress.")


@commands.command("pr-checks")
def run_pr_checks(
    repo: Annotated[str, typer.Option(help="Repository path or URL")],
    sha: Annotated[str, typer.Option(help="Commit to check")],
    config_ref: Annotated[str | None, typer.Option(help="Read shipyard.yaml here (PR base branch)")] = None,
    app_names: Annotated[list[str] | None, typer.Option("--app", help="Only these apps (repeatable)")] = None,
    parallelism: Annotated[int | None, typer.Option(help="Checks at once (default: config)")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch whose rule picks required stages")] = None,
    stages: Annotated[list[str] | None, typer.Option("--stage", help="Run only these stages (repeatable)")] = None,
    github_repo: Annotated[str | None, typer.Option(help="owner/name for commit statuses")] = None,
    with_images: Annotated[bool, typer.Option("--with-images", help="Also build, push and measure images")] = False,
    pr_number: Annotated[int | None, typer.Option("--pr", min=1, help="Pull request: fetch refs/pull/N/head")] = None,
    fork: Annotated[bool, typer.Option("--fork", help="The pull request is a fork's: no credentials")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own logs too")] = False,
) -> None:
    """Run the pr-checks flow on one commit and show each check as it runs, passes or fails."""
    from flows.pr_checks import pr_checks

    parameters = {
        "repo": repo,
        "sha": sha,
        "config_ref": config_ref,
        "apps": app_names,
        "parallelism": parallelism,
        "branch": branch,
        "stages": stages,
        "github_repo": github_repo,
        "with_images": with_images,
        "pr_number": pr_number,
        "fork": fork,
    }
    outcome = _run_with_progress(pr_checks, parameters, verbose)
    if isinstance(outcome, Summary):
        _print_summary(outcome)
        raise typer.Exit(EXIT_PASSED)
    if isinstance(outcome, ChecksFailed):
        _print_summary(outcome.summary)
        raise typer.Exit(EXIT_FAILED)
    exit_for(outcome)


def _run_with_progress(flow: Any, parameters: dict[str, Any], verbose: bool) -> object:
    from prefect import tags
    from prefect.client.orchestration import get_client

    from cli.progress import ProgressWatcher

    if not verbose:
        _quiet_prefect_console()
    tag = f"shipyard-cli-{uuid.uuid4().hex[:12]}"
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with tags(tag):
                box["state"] = flow(**parameters, return_state=True)
        except Exception as exc:  # the engine itself could not run (no API, ...): report it, exit 3
            box["error"] = exc

    worker = threading.Thread(target=target, name="flow", daemon=True)
    terminated = threading.Event()
    # The flow runs in a thread, where Prefect cannot take SIGTERM itself: this one stops the run's commands and
    # ends the run as crashed, instead of dying with the run shown as running and its checks left orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.set())
    worker.start()
    with get_client(sync_client=True) as client:
        watcher = ProgressWatcher(client, tag, out)
        while worker.is_alive() and not terminated.is_set():
            worker.join(0.5)
            _poll_quietly(watcher)
        if terminated.is_set():
            _stop_on_sigterm(client, watcher)
        if "error" not in box:
            _poll_quietly(watcher)
    _print_link(watcher)
    reports = Home.from_env().reports(str(watcher.flow_run.id)) if watcher.flow_run is not None else None
    if reports is not None and reports.exists():
        out.print(f"Reports: {reports}", soft_wrap=True)
    if "error" in box:
        return box["error"]
    return box["state"].result(raise_on_failure=False)


def _stop_on_sigterm(client: Any, watcher: Any) -> None:
    """Kill every command the run has going (sandboxes with all they started), mark the run and its unfinished
    task runs crashed, and exit 143 without waiting for the flow's threads."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    from shipyard.runner import stop_running

    stopped = stop_running()
    why = f"shipyard run was stopped by SIGTERM; {stopped} running command(s) killed"
    _poll_quietly(watcher)
    if watcher.flow_run is not None:
        with contextlib.suppress(Exception):  # the server may be gone too; the exit says what happened
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[watcher.flow_run.id])))
            for task_run in runs:
                if task_run.state is not None and not task_run.state.is_final():
                    client.set_task_run_state(task_run.id, Crashed(message=why), force=True)
            client.set_flow_run_state(watcher.flow_run.id, Crashed(message=why), force=True)
        _print_link(watcher)
    err.print(why)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_TERMINATED)


def _print_link(watcher: Any) -> None:
    from prefect.settings import PREFECT_UI_URL

    if watcher.flow_run is not None and PREFECT_UI_URL.value():
        out.print(f"Flow run: {PREFECT_UI_URL.value()}/runs/flow-run/{watcher.flow_run.id}", soft_wrap=True)


def _poll_quietly(watcher: Any) -> None:
    try:
        watcher.poll()
    except Exception as exc:  # progress is a view; never let it break the run
        if os.environ.get("SHIPYARD_DEBUG"):
            err.print(f"progress poll failed: {exc}")


def _quiet_prefect_console() -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    for logger in [logging.getLogger("prefect"), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL)  # failures are shown by the progress lines instead


def _print_summary(summary: Summary) -> None:
    table = Table(title="pr-checks")
    for column in ("app", "check", "toolchain", "status", "duration", "detail"):
        table.add_column(column)
    colours = {"passed": "green", "failed": "red", "unavailable": "yellow", "skipped": "magenta"}
    for row in summary.table():
        colour = colours.get(row["status"].split()[0], "white")
        table.add_row(
            row["app"], row["check"], row["toolchain"], f"[{colour}]{row['status']}[/]", row["duration"], row["detail"]
        )
    out.print(table)
    for result in summary.blocking:
        out.rule(f"{result.spec.name}: {result.status.value}: {result.summary}", style="red")
        if result.tail:
            out.print(result.tail, markup=False, highlight=False)
    for result in summary.results:
        if not result.blocking and result.status.value != "passed":
            line = f"[yellow]did not block:[/] {result.spec.name}: {result.status.value}: "
            out.print(line + escape(result.summary), highlight=False, soft_wrap=True)
    out.print(("[green]" if summary.passed else "[red]") + summary.headline(), highlight=False, soft_wrap=True)
