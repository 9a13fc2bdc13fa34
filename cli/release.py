"""`shipyard deploy`, `shipyard rollback`, `shipyard status`: the release engine from a terminal, no pipeline.

The engine, the ledger and the backends are imported by the commands that use them, so the other commands start
without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.app import EXIT_FAILED, EXIT_PASSED, guard, out
from cli.approvals import ActorOption, KeyOption, signer

if TYPE_CHECKING:
    from collections.abc import Callable

    from shipyard.config import PipelineConfig
    from shipyard.ledger import Ledger
    from shipyard.release.backend import Backend
    from shipyard.release.engine import Engine
    from shipyard.release.rollout import Decision

TargetOption = Annotated[
    str | None, typer.Option(help="Which of the environment's targets, by backend: local, kubernetes, ecs")
]


def deploy(
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
    ok = guard(lambda: _deploy(environment, app_name, version, sha, artifact, actor, config, target))
    raise typer.Exit(EXIT_PASSED if ok else EXIT_FAILED)


def rollback(
    environment: Annotated[str, typer.Argument(help="Environment from shipyard.yaml")],
    app_name: Annotated[str, typer.Option("--app", help="App to roll back")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    key: KeyOption,
    actor: ActorOption = None,
    to: Annotated[str | None, typer.Option(help="Version to restore; default: the previous stable one")] = None,
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
    target: TargetOption = None,
) -> None:
    """Put the previous stable release back at 100% now, without running any pipeline (a release in progress is
    aborted first). Signed with --key when a policy is in force."""
    guard(lambda: _rollback(environment, app_name, to, key, actor, reason, config, target))


def status(
    environment: Annotated[str, typer.Argument(help="Environment from shipyard.yaml")],
    config: Annotated[Path, typer.Option(help="Pipeline config")] = Path("shipyard.yaml"),
    target: TargetOption = None,
) -> None:
    """Which release and colour serve each app, the router's weights, and the last events."""
    guard(lambda: _status(environment, config, target))


@contextmanager
def _open(config_path: Path, environment: str, target: str | None) -> Iterator[tuple[PipelineConfig, Ledger, Backend]]:
    """The command's resources, built once and closed when it ends."""
    from shipyard.config import load_config
    from shipyard.resources import opened
    from tasks.cloud import backend_for

    config = load_config(config_path)
    with opened() as resources:
        root = config_path.resolve().parent
        yield config, resources.ledger, backend_for(config, environment, root, resources.home, target)


@contextmanager
def engine_for(
    config_path: Path, environment: str, app: str, target: str | None,
    on_step: Callable[[Decision], None] | None = None,
) -> Iterator[tuple[Ledger, Engine, str]]:  # fmt: skip
    """The ledger, an engine for the app on the environment's target, and the name its releases are recorded
    under."""
    from shipyard.release import setup
    from shipyard.release.engine import Engine

    with _open(config_path, environment, target) as (config, ledger, backend):
        spec, smoke = setup.rollout_spec(config, environment), setup.smoke_checks(config, app)
        engine = Engine(ledger, backend, spec, smoke, on_step=on_step or (lambda decision: None))
        yield ledger, engine, setup.ledger_environment(config, environment, target)


def _deploy(
    environment: str,
    app: str,
    version: str,
    sha: str,
    artifact: str,
    actor: str,
    config_path: Path,
    target: str | None,
) -> bool:
    from shipyard.ledger import EventKind
    from shipyard.release.artifact import digest_of
    from shipyard.release.engine import ReleaseRequest
    from shipyard.release.rollout import Step

    def show(decision: Decision) -> None:
        routed = "" if decision.step is Step.WAIT else f"  [{_weights(engine.backend, app)}]"
        out.print(f"  {decision.step.value:<16} {decision.reason}{routed}", highlight=False, markup=False)

    with engine_for(config_path, environment, app, target, show) as (ledger, engine, recorded):
        backend = engine.backend
        # the operator names what ships; its digest is taken now and checked before every start of a colour
        digest = digest_of(artifact)
        artifact = backend.prepare(app, artifact, version, sha)
        outcome = engine.deploy(ReleaseRequest(recorded, app, version, sha, artifact, actor, artifact_digest=digest))
        colour = "green" if outcome.succeeded else "red"
        word = "promoted" if outcome.succeeded else "rolled back"
        summary = f"[{colour}]{app} {version} {word}[/] on {outcome.release.colour}: {outcome.reason}"
        out.print(summary, highlight=False)
        out.print(f"  traffic now: {_weights(backend, app)}; artifact {artifact}", highlight=False)
        for event in ledger.events(outcome.release.id):
            if event.kind is EventKind.NOTE and "action" not in event.details:  # why the steps differ from config
                out.print(f"  note: {event.reason}", highlight=False, markup=False)
        return outcome.succeeded


def _rollback(
    environment: str, app: str, to: str | None, key: Path, actor: str | None, reason: str, config_path: Path,
    target: str | None,
) -> None:  # fmt: skip
    from shipyard.release.progress import ask_to_abort
    from shipyard.resources import opened

    with opened() as resources:
        ledger = resources.ledger
        asked: set[int] = set()
        fast = target is None and to is None  # the environment's own target, whose releases carry its name
        who = signer(ledger, environment, environment, app, "rollback", reason, key, actor) if fast else ""
        if fast:  # the lock's holder is asked to abort before anything else is built
            ask_to_abort(ledger, environment, app, who, f"emergency rollback: {reason}", asked)
        from shipyard.config import load_config
        from shipyard.release import setup
        from shipyard.release.rollback import emergency_rollback
        from tasks.cloud import backend_for

        config = load_config(config_path)
        backend = backend_for(config, environment, config_path.resolve().parent, resources.home, target)
        recorded = setup.ledger_environment(config, environment, target)
        who = who or signer(ledger, environment, recorded, app, "rollback", reason, key, actor, to)
        result = emergency_rollback(ledger, backend, recorded, app, who, reason, to, asked=asked)
        for warning in result.warnings:
            out.print(f"[yellow]warning:[/] {warning}", highlight=False)
        out.print(
            f"{app} in {environment}: {result.restored.version} is back at 100% on {result.colour} "
            f"(replaced {result.replaced.version}) in {result.seconds:.2f} s; recorded as by {who}: {reason}",
            highlight=False,
        )
        out.print(f"  traffic now: {_weights(backend, app)}; artifact {result.restored.artifact}", highlight=False)


def _status(environment: str, config_path: Path, target: str | None) -> None:
    from shipyard.release import setup

    with _open(config_path, environment, target) as (config, ledger, backend):
        recorded = setup.ledger_environment(config, environment, target)
        table = Table(title=recorded)
        for column in ("app", "serving", "previous stable", "weights", "running", "last events"):
            table.add_column(column)
        for app in setup.apps_in(config, environment, target):
            current = ledger.current(recorded, app)
            previous = ledger.previous_stable(recorded, app)
            weights = _weights(backend, app)
            running = ", ".join(c for c in ("blue", "green") if backend.running(app, c)) or "none"
            events = "\n".join(
                f"{e.at:%H:%M:%S} {e.kind}{'' if e.weight is None else f' {e.weight}%'} {e.actor}: {e.reason}"[:90]
                for e in reversed(ledger.recent_events(recorded, app, limit=5))
            )
            table.add_row(
                app,
                f"{current.version} ({current.colour})" if current else "-",
                previous.version if previous else "-",
                weights,
                running,
                events or "-",
            )
        out.print(table)


def _weights(backend: Backend, app: str) -> str:
    """The router's weights as read back from it (ALB listener, Service selector, HAProxy)."""
    try:
        return ", ".join(f"{c} {w}%" for c, w in backend.weights(app).items())
    except Exception as exc:  # a router that is not there yet is a state to show, not a crash
        return f"router down ({type(exc).__name__})"
