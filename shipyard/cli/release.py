"""`shipyard deploy`, `shipyard rollback`, `shipyard status`: the release engine from a terminal, no pipeline."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from shipyard.config import PipelineConfig, load_config
from shipyard.home import Home
from shipyard.ledger import Ledger
from shipyard.release import setup
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.rollback import emergency_rollback


def _open(config_path: Path) -> tuple[PipelineConfig, Home, Ledger]:
    config = load_config(config_path)
    ledger = Ledger()
    ledger.migrate()
    return config, Home.from_env(), ledger


def deploy(
    out: Console,
    environment: str,
    app: str,
    version: str,
    sha: str,
    artifact: str,
    actor: str,
    config_path: Path,
) -> bool:
    config, home, ledger = _open(config_path)
    engine = Engine(
        ledger,
        setup.backend_for(config, environment, home),
        setup.rollout_spec(config, environment),
        setup.smoke_checks(config, app),
        on_step=lambda d: out.print(f"  {d.step.value:<16} {d.reason}", highlight=False),
    )
    outcome = engine.deploy(ReleaseRequest(environment, app, version, sha, artifact, actor))
    colour = "green" if outcome.succeeded else "red"
    word = "promoted" if outcome.succeeded else "rolled back"
    out.print(f"[{colour}]{app} {version} {word}[/] on {outcome.release.colour}: {outcome.reason}", highlight=False)
    return outcome.succeeded


def rollback(
    out: Console, environment: str, app: str, to: str | None, actor: str, reason: str, config_path: Path
) -> None:
    config, home, ledger = _open(config_path)
    backend = setup.backend_for(config, environment, home)
    result = emergency_rollback(ledger, backend, environment, app, actor, reason, to)
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(
        f"{app} in {environment}: {result.restored.version} is back at 100% on {result.colour} "
        f"(replaced {result.replaced.version}) in {result.seconds:.2f} s; recorded as by {actor}: {reason}",
        highlight=False,
    )


def status(out: Console, environment: str, config_path: Path) -> None:
    config, home, ledger = _open(config_path)
    backend = setup.backend_for(config, environment, home)
    table = Table(title=f"{environment}")
    for column in ("app", "serving", "previous stable", "weights", "running", "last events"):
        table.add_column(column)
    for app in setup.apps_in(config, environment):
        current = ledger.current(environment, app)
        previous = ledger.previous_stable(environment, app)
        try:
            weights = ", ".join(f"{c} {w}%" for c, w in backend.weights(app).items())
        except Exception as exc:  # a router that is not running is a state to show, not a crash
            weights = f"router down ({type(exc).__name__})"
        running = ", ".join(c for c in ("blue", "green") if backend.running(app, c)) or "none"
        events = "\n".join(
            f"{e.at:%H:%M:%S} {e.kind}{'' if e.weight is None else f' {e.weight}%'} {e.actor}: {e.reason}"[:90]
            for e in reversed(ledger.recent_events(environment, app, limit=5))
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
