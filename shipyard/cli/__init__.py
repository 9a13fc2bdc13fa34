"""The `shipyard` command line. Exit codes: 0 passed, 1 checks failed, 2 bad input, 3 could not run."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipyard.checks.report import ChecksFailed, Summary
from shipyard.config import ConfigError, load_config
from shipyard.errors import InputError, ShipyardError
from shipyard.home import Home

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3

app = typer.Typer(help="Shipyard: CI/CD as Prefect flows.", no_args_is_help=True, pretty_exceptions_enable=False)
run_app = typer.Typer(help="Run a pipeline now, in this process, with live progress.", no_args_is_help=True)
config_app = typer.Typer(help="Pipeline configuration (shipyard.yaml).", no_args_is_help=True)
sample_app = typer.Typer(help="The bundled sample platform.", no_args_is_help=True)
server_app = typer.Typer(help="A local Prefect server on 127.0.0.1.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(config_app, name="config")
app.add_typer(sample_app, name="sample")
images_app = typer.Typer(help="Container images: local base images.", no_args_is_help=True)
app.add_typer(server_app, name="server")
app.add_typer(images_app, name="images")
webhook_app = typer.Typer(help="The GitHub webhook relay.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")
demo_app = typer.Typer(help="What `make demo` leaves running.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")

# Wide when piped (CI logs, tests) so table rows and URLs are not folded.
out = Console(width=None if Console().is_terminal else 200)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 200)


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="Path to shipyard.yaml")]) -> None:
    """Validate a pipeline config; every problem names the file, line and key."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    checks = sum(len(a.checks) * len(a.versions) for a in config.apps.values())
    out.print(f"{path}: valid ({len(config.apps)} apps, {checks} checks per commit, {len(config.environments)} envs)")


@config_app.command("reference")
def config_reference() -> None:
    """Print the configuration reference (markdown) generated from the schema."""
    from shipyard.config.reference import reference_markdown

    print(reference_markdown())


@sample_app.command("create")
def sample_create(
    dest: Annotated[Path, typer.Argument(help="Empty folder for the new repository")],
    variant: Annotated[str | None, typer.Option(help="Overlay that breaks the sample on purpose")] = None,
) -> None:
    """Commit the sample platform into a new git repository and print the commit SHA."""
    from shipyard.sample import create_sample_repo

    _guard(lambda: out.print(create_sample_repo(dest, variant)))


@server_app.command("up")
def server_up(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 4200) -> None:
    """Start a Prefect server on 127.0.0.1 unless one is already answering there; it keeps running."""
    from deployments.local_server import up

    server = _guard(lambda: up(Home.from_env(), port))
    state = (
        f"started (pid {server.process.pid}; `shipyard server down` stops it)" if server.process else "already running"
    )
    out.print(f"Prefect server {state}: UI {server.ui_url}  API {server.api_url}", highlight=False)
    out.print(f"Use it with: export PREFECT_API_URL={server.api_url}", highlight=False)


@server_app.command("down")
def server_down() -> None:
    """Stop the Prefect server `shipyard server up` started (SIGTERM, 10 s, then its process group is killed)."""
    from deployments.local_server import down

    stopped = down(Home.from_env())
    out.print(
        str(stopped) if stopped else "no Prefect server started by `shipyard server up` is running", highlight=False
    )


@demo_app.command("down")
def demo_down() -> None:
    """Stop what `make demo` leaves running: the local colours and HAProxy routers, then the Prefect server."""
    from deployments.local_server import down
    from shipyard.release.local import stop_everything

    home = Home.from_env()
    stopped = [*stop_everything(home.root / "local"), down(home)]
    for line in stopped:
        out.print(str(line), highlight=False)
    if not any(stopped):
        out.print("nothing of the demo's is running", highlight=False)


@images_app.command("bootstrap")
def images_bootstrap(force: Annotated[bool, typer.Option(help="Rebuild existing base images too")] = False) -> None:
    """Create the local base images (Debian via debootstrap, then Python and Node bases) the sample builds on."""
    from shipyard.images.bootstrap import bootstrap
    from tasks.images import docker_api

    api = docker_api()
    if isinstance(api, str):
        err.print(f"error: {api}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR)
    created = _guard(lambda: bootstrap(api, force))
    out.print(f"created: {', '.join(created)}" if created else "every base image is already there", highlight=False)


@images_app.command("worker")
def images_worker() -> None:
    """Build the image Docker work-pool flow runs execute in (Shipyard installed on the local Python builder)."""
    from shipyard.images.worker import build_worker_image
    from tasks.images import docker_api

    api = docker_api()
    if isinstance(api, str):
        err.print(f"error: {api}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR)
    tag = _guard(lambda: build_worker_image(api))
    out.print(f"built {tag}; infra/work-pools/docker.json runs flows in it", highlight=False)


@webhook_app.command("serve")
def webhook_serve(
    config: Annotated[Path, typer.Option(help="shipyard.yaml of the default branch (its branch rules route)")],
    port: Annotated[int, typer.Option(help="Port")] = 8787,
    host: Annotated[str, typer.Option(help="Address; a proxy in front of it faces GitHub")] = "127.0.0.1",
    secret_env: Annotated[str, typer.Option(help="Variable holding the webhook secret")] = "GITHUB_WEBHOOK_SECRET",
    watch_seconds: Annotated[float, typer.Option(help="How often expired approvals are recorded")] = 30.0,
) -> None:
    """Serve POST /github (deliveries) and GET /health; every accepted delivery becomes exactly one flow run."""
    import uvicorn

    from deployments.webhook_relay import create_app, spool_path
    from shipyard.webhook_spool import Spool

    secret = os.environ.get(secret_env)
    if not secret:
        err.print(f"error: ${secret_env} is not set: deliveries cannot be verified", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    pipeline = _guard(lambda: load_config(config))
    spool = Spool(spool_path(Home.from_env().root))
    out.print(f"webhook relay on http://{host}:{port}/github (health: /health)", highlight=False)
    relay = create_app(pipeline, secret.encode(), spool, watch_interval=watch_seconds)
    uvicorn.run(relay, host=host, port=port, log_level="warning")


@app.command("approve")
def approve_command(
    run_id: Annotated[str, typer.Argument(help="Flow run id of the suspended deploy (printed by the run and Slack)")],
    actor: Annotated[str, typer.Option("--as", help="Your name, as listed in the environment's approvers")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving")] = False,
    ticket: Annotated[str | None, typer.Option(help="Change ticket")] = None,
    steps: Annotated[str | None, typer.Option(help="A different traffic plan, e.g. 5,25,100")] = None,
) -> None:
    """Answer a deploy's approval gate from a terminal (the same form as the Prefect UI); the run then checks that
    you may decide and records it as arrived by CLI."""
    from deployments.approvals import answer

    plan = _guard(lambda: _steps(steps))
    _guard(lambda: answer(run_id, reject, actor, reason, ticket, plan))
    word = "rejection" if reject else "approval"
    out.print(f"{word} by {actor} sent to flow run {run_id}; it resumes and records the decision", highlight=False)


@app.command("approvals")
def approvals_command(
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
) -> None:
    """Record approvals nobody gave in time as expired (the relay does this every 30 s)."""
    from deployments.approvals import sweep_once

    pipeline = _guard(lambda: load_config(config))
    recorded = _guard(lambda: sweep_once(pipeline))
    out.print(f"{len(recorded)} expired approval(s) recorded: {', '.join(recorded) or '-'}", highlight=False)


def _steps(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--steps {text!r}: expected comma-separated percentages, e.g. 5,25,100") from None


@run_app.command("pr-checks")
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
    }
    outcome = _run_with_progress(pr_checks, parameters, verbose)
    if isinstance(outcome, Summary):
        _print_summary(outcome)
        raise typer.Exit(EXIT_PASSED)
    if isinstance(outcome, ChecksFailed):
        _print_summary(outcome.summary)
        raise typer.Exit(EXIT_FAILED)
    _exit_for(outcome)


TargetOption = Annotated[
    str | None, typer.Option(help="Which of the environment's targets, by backend: local, kubernetes, ecs")
]


@app.command("deploy")
def deploy_command(
    environment: Annotated[str, typer.Argument(help="Environment from shipyard.yaml")],
    app_name: Annotated[str, typer.Option("--app", help="App to release")],
    version: Annotated[str, typer.Option(help="Version being released")],
    sha: Annotated[str, typer.Option(help="Commit of the release")],
    artifact: Annotated[str, typer.Option(help="Release folder (local), image, or ECS task definition ARN")],
    actor: Annotated[str, typer.Option("--as", help="Who releases")] = "cli",
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
    target: TargetOption = None,
) -> None:
    """Blue-green release of one app now: health, smoke, traffic steps with analysis, automatic rollback."""
    from shipyard.cli import release

    ok = _guard(lambda: release.deploy(out, environment, app_name, version, sha, artifact, actor, config, target))
    raise typer.Exit(EXIT_PASSED if ok else EXIT_FAILED)


@app.command("rollback")
def rollback_command(
    environment: Annotated[str, typer.Argument(help="Environment from shipyard.yaml")],
    app_name: Annotated[str, typer.Option("--app", help="App to roll back")],
    actor: Annotated[str, typer.Option("--as", help="Who rolls back (recorded)")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    to: Annotated[str | None, typer.Option(help="Version to restore; default: the previous stable one")] = None,
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
    target: TargetOption = None,
) -> None:
    """Put the previous stable release back at 100% now, without running any pipeline."""
    from shipyard.cli import release

    _guard(lambda: release.rollback(out, environment, app_name, to, actor, reason, config, target))


@app.command("status")
def status_command(
    environment: Annotated[str, typer.Argument(help="Environment from shipyard.yaml")],
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
    target: TargetOption = None,
) -> None:
    """Which release and colour serve each app, the router's weights, and the last events."""
    from shipyard.cli import release

    _guard(lambda: release.status(out, environment, config, target))


def _run_with_progress(flow: Any, parameters: dict[str, Any], verbose: bool) -> object:
    from prefect import tags
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_UI_URL

    from shipyard.cli.progress import ProgressWatcher

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
    worker.start()
    with get_client(sync_client=True) as client:
        watcher = ProgressWatcher(client, tag, out)
        while worker.is_alive():
            worker.join(0.5)
            _poll_quietly(watcher)
        if "error" not in box:
            _poll_quietly(watcher)
    if watcher.flow_run is not None and PREFECT_UI_URL.value():
        out.print(f"Flow run: {PREFECT_UI_URL.value()}/runs/flow-run/{watcher.flow_run.id}", soft_wrap=True)
    if watcher.flow_run is not None and Home.from_env().reports(str(watcher.flow_run.id)).exists():
        out.print(f"Reports: {Home.from_env().reports(str(watcher.flow_run.id))}", soft_wrap=True)
    if "error" in box:
        return box["error"]
    return box["state"].result(raise_on_failure=False)


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


def _exit_for(error: object) -> None:
    if isinstance(error, ConfigError):
        for line in error.lines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if isinstance(error, InputError):
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    err.print(f"error: could not run: {error}", markup=False, highlight=False)
    raise typer.Exit(EXIT_ERROR)


def _guard(action: Any) -> Any:
    try:
        return action()
    except ShipyardError as exc:
        _exit_for(exc)


def main() -> None:
    from shipyard.processes import restore_default_signals

    restore_default_signals()
    app()
