"""`shipyard deploy`, `shipyard rollback`, `shipyard status`: the release engine from a terminal, no pipeline."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from shipyard.config import PipelineConfig, load_config
from shipyard.ledger import EventKind, Ledger
from shipyard.release import setup
from shipyard.release.backend import Backend
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.rollback import emergency_rollback
from shipyard.release.rollout import Decision, Step
from tasks.cloud import backend_for


def _open(config_path: Path) -> tuple[PipelineConfig, Ledger]:
    config = load_config(config_path)
    ledger = Ledger()
    ledger.migrate()
    return config, ledger


def deploy(
    out: Console,
    environment: str,
    app: str,
    version: str,
    sha: str,
    artifact: str,
    actor: str,
    config_path: Path,
    target: str | None = None,
) -> bool:
    config, ledger = _open(config_path)
    backend = backend_for(config, environment, config_path.resolve().parent, target)

    def show(decision: Decision) -> None:
        routed = "" if decision.step is Step.WAIT else f"  [{_weights(backend, app)}]"
        out.print(f"  {decision.step.value:<16} {decision.reason}{routed}", highlight=False, markup=False)

    engine = Engine(
        ledger,
        backend,
        setup.rollout_spec(config, environment),
        setup.smoke_checks(config, app),
        on_step=show,
    )
    artifact = backend.prepare(app, artifact, version, sha)
    recorded = setup.ledger_environment(config, environment, target)
    outcome = engine.deploy(ReleaseRequest(recorded, app, version, sha, artifact, actor))
    colour = "green" if outcome.succeeded else "red"
    word = "promoted" if outcome.succeeded else "rolled back"
    out.print(f"[{colour}]{app} {version} {word}[/] on {outcome.release.colour}: {outcome.reason}", highlight=False)
    out.print(f"  traffic now: {_weights(backend, app)}; artifact {artifact}", highlight=False)
    for event in ledger.events(outcome.release.id):
        if event.kind is EventKind.NOTE and "action" not in event.details:  # e.g. why the steps differ from config
            out.print(f"  note: {event.reason}", highlight=False, markup=False)
    return outcome.succeeded


def rollback(
    out: Console,
    environment: str,
    app: str,
    to: str | None,
    actor: str,
    reason: str,
    config_path: Path,
    target: str | None = None,
) -> None:
    config, ledger = _open(config_path)
    backend = backend_for(config, environment, config_path.resolve().parent, target)
    recorded = setup.ledger_environment(config, environment, target)
    result = emergency_rollback(ledger, backend, recorded, app, actor, reason, to)
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(
        f"{app} in {environment}: {result.restored.version} is back at 100% on {result.colour} "
        f"(replaced {result.replaced.version}) in {result.seconds:.2f} s; recorded as by {actor}: {reason}",
        highlight=False,
    )
    out.print(f"  traffic now: {_weights(backend, app)}; artifact {result.restored.artifact}", highlight=False)


def _weights(backend: Backend, app: str) -> str:
    """The router's weights as read back from it (ALB listener, Service selector, HAProxy)."""
    try:
        return ", ".join(f"{c} {w}%" for c, w in backend.weights(app).items())
    except Exception as exc:  # a router that is not there yet is a state to show, not a crash
        return f"router down ({type(exc).__name__})"


def status(out: Console, environment: str, config_path: Path, target: str | None = None) -> None:
    config, ledger = _open(config_path)
    backend = backend_for(config, environment, config_path.resolve().parent, target)
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
