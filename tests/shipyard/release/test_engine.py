"""The release engine end to end on this machine: real processes, real HAProxy, the ledger, under probe load."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from shipyard.errors import InputError
from shipyard.files import free_port
from shipyard.ledger import EventKind, Ledger
from shipyard.release.artifact import folder_digest
from shipyard.release.backend import Backend, RouterError
from shipyard.release.engine import Engine, ReleaseRequest
from shipyard.release.local import LocalApp, LocalBackend
from shipyard.release.rollback import emergency_rollback
from shipyard.release.rollout import Decision, Step
from shipyard.release.smoke import SmokeCheck
from tests.capabilities import require_tools
from tests.support.colours import ROOT, SERVER
from tests.support.engine_driver import SPEC

pytestmark = pytest.mark.slow

FAST = SPEC  # the crash tests' driver uses the same quick rollout
SMOKE = [SmokeCheck("/health", json_field="colour"), SmokeCheck("/ready")]


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    require_tools("haproxy")
    command = f"{sys.executable} {SERVER} {{port}} $SHIPYARD_COLOUR"
    app = LocalApp(
        command=command, cwd=ROOT, router_port=free_port(), ports={"blue": free_port(), "green": free_port()}
    )
    backend = LocalBackend(tmp_path / "state", {"api": app})
    ledger = Ledger(database_url)
    ledger.migrate()
    yield Engine(ledger, backend, FAST, SMOKE, poll=0.2)
    backend.shutdown("api")
    ledger.close()


def deploy(engine: Engine, version: str):  # type: ignore[no-untyped-def]
    return engine.deploy(ReleaseRequest("production", "api", version, f"sha{version}", f"img:{version}", "ci"))


def kinds(engine: Engine, release_id: int) -> list[str]:
    return [f"{e.kind}{'' if e.weight is None else f'@{e.weight}'}" for e in engine.ledger.events(release_id)]


def test_first_release_then_a_good_one_then_a_bad_one(engine: Engine) -> None:
    first = deploy(engine, "1.0.0")
    assert first.succeeded, first.reason
    history = kinds(engine, first.release.id)
    assert [k for k in history if k.startswith("shifted")] == ["shifted@100"]  # nothing to share traffic with
    assert history[-1] == "promoted" and "note" in history

    second = deploy(engine, "1.1.0")
    assert second.succeeded, second.reason
    assert second.release.colour != first.release.colour
    history = kinds(engine, second.release.id)
    assert [k for k in history if k.startswith("shifted")] == ["shifted@10", "shifted@50", "shifted@100"]
    assert history.count("smoke-passed") == 2 and history[-1] == "promoted"
    assert "scaled-down" in kinds(engine, first.release.id)
    assert engine.backend.weights("api") == {second.release.colour: 100, first.release.colour: 0}

    bad = deploy(engine, "2.0.0-bad")
    assert not bad.succeeded and "error rate" in bad.reason
    history = kinds(engine, bad.release.id)
    assert [k for k in history if k.startswith("shifted")] == ["shifted@10", "shifted@0"]
    assert history.index("failed") < history.index("shifted@0") and history[-1] == "rolled-back"
    assert engine.backend.weights("api") == {second.release.colour: 100, bad.release.colour: 0}
    assert not engine.backend.running("api", bad.release.colour)
    current = engine.ledger.current("production", "api")
    assert current is not None and current.version == "1.1.0"


def test_a_release_that_never_gets_ready_takes_no_traffic(engine: Engine) -> None:
    assert deploy(engine, "1.0.0").succeeded
    unready = deploy(engine, "1.1.0-unready")
    assert not unready.succeeded and "not ready after" in unready.reason
    assert not [k for k in kinds(engine, unready.release.id) if k.startswith("shifted@") and k != "shifted@0"]
    current = engine.ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"


def serving_version(engine: Engine) -> set[str]:
    url = engine.backend.router_url("api")
    return {httpx.get(url + "/", timeout=5).json()["version"] for _ in range(20)}


def test_emergency_rollback_restores_the_previous_release_and_refuses_when_there_is_none(engine: Engine) -> None:
    assert deploy(engine, "1.0.0").succeeded
    with pytest.raises(InputError, match=r"nothing to roll back to: api 1\.0\.0 is the only stable release"):
        emergency_rollback(engine.ledger, engine.backend, "production", "api", "dana", "test")
    assert deploy(engine, "1.1.0").succeeded
    assert serving_version(engine) == {"1.1.0"}
    with pytest.raises(InputError, match=r"api 0\.9 was never a stable release .* earlier stable releases: 1\.0\.0"):
        emergency_rollback(engine.ledger, engine.backend, "production", "api", "dana", "test", to_version="0.9")

    result = emergency_rollback(engine.ledger, engine.backend, "production", "api", "dana", "checkout errors")
    assert result.restored.version == "1.0.0" and result.replaced.version == "1.1.0"
    assert serving_version(engine) == {"1.0.0"}
    current = engine.ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"
    restored = engine.ledger.events(result.restored.id)[-1]
    assert (restored.kind, restored.actor, restored.reason) == (EventKind.RESTORED, "dana", "checkout errors")
    assert engine.ledger.events(result.replaced.id)[-1].kind is EventKind.ROLLED_BACK

    # the next release goes to the colour the router is not using, whatever the ledger colours say
    again = deploy(engine, "1.2.0")
    assert again.succeeded, again.reason
    assert again.release.colour != result.colour
    assert serving_version(engine) == {"1.2.0"}


def test_a_stable_colour_gone_since_the_last_release_is_restarted_before_traffic_is_shared(engine: Engine) -> None:
    """After a host restart the ledger's stable release runs nowhere: the canary steps need it back first."""
    first = deploy(engine, "1.0.0")
    assert first.succeeded
    engine.backend.stop("api", first.release.colour)  # what a reboot does to it
    second = deploy(engine, "1.1.0")
    assert second.succeeded, second.reason
    history = kinds(engine, second.release.id)
    assert [k for k in history if k.startswith("shifted")] == ["shifted@10", "shifted@50", "shifted@100"]
    assert "scaled-down" in kinds(engine, first.release.id)  # it served its share, then went down after promotion


class _RouterFailsOnce:
    """The local backend, except that moving traffic to 50% fails once (a router that stopped answering)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.failed = backend, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def set_weights(self, app: str, weights: dict[str, int]) -> None:
        if 50 in weights.values() and not self.failed:
            self.failed = True
            raise RouterError("admin socket: connection refused")
        self.backend.set_weights(app, weights)


def test_a_step_that_fails_rolls_the_release_back_instead_of_leaving_it_half_done(engine: Engine) -> None:
    first = deploy(engine, "1.0.0")
    assert first.succeeded
    engine.backend = cast(Backend, _RouterFailsOnce(engine.backend))
    second = deploy(engine, "1.1.0")
    assert not second.succeeded
    assert "shift failed: admin socket: connection refused" in second.reason
    history = kinds(engine, second.release.id)
    assert [k for k in history if k.startswith("shifted")] == ["shifted@10", "shifted@0"]
    assert history[-1] == "rolled-back"
    assert engine.backend.weights("api") == {first.release.colour: 100, second.release.colour: 0}
    assert deploy(engine, "1.2.0").succeeded  # nothing is left half done to block the next release


def test_a_release_folder_changed_after_it_was_recorded_never_starts_and_the_ledger_says_why(
    engine: Engine, tmp_path: Path
) -> None:
    folders = {}
    for version in ("1.0.0", "1.1.0"):
        folders[version] = tmp_path / f"release-{version}"
        (folders[version] / "app").mkdir(parents=True)
        (folders[version] / "app" / "main.py").write_text(f"VERSION = {version!r}\n")

    def ship(version: str, digest: str):  # type: ignore[no-untyped-def]
        request = ReleaseRequest("production", "api", version, f"sha{version}", str(folders[version]), "ci")
        return engine.deploy(replace(request, artifact_digest=digest))

    first = ship("1.0.0", folder_digest(folders["1.0.0"]))
    assert first.succeeded, first.reason
    recorded = folder_digest(folders["1.1.0"])
    (folders["1.1.0"] / "app" / "main.py").write_text("import os; os.system('curl attacker')\n")  # after recording
    tampered = ship("1.1.0", recorded)
    assert not tampered.succeeded
    failed = [e for e in engine.ledger.events(tampered.release.id) if e.kind is EventKind.FAILED]
    assert len(failed) == 1 and "does not match its recorded digest" in failed[0].reason, failed
    assert f"recorded {recorded}" in failed[0].reason and "not starting it" in failed[0].reason
    assert tampered.release.artifact_digest == recorded
    assert not engine.backend.running("api", tampered.release.colour)
    assert engine.backend.weights("api")[first.release.colour] == 100  # the previous release keeps serving
    current = engine.ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"


class FailingLedger(Ledger):
    """The ledger's database goes away once traffic reached 10%: every write fails from then on."""

    broken = False

    def record(
        self, release_id: int, kind: EventKind, actor: str, reason: str = "", weight: int | None = None, *args: Any,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        if self.broken:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("INSERT INTO release_events", {}, Exception("server closed the connection"))
        event = super().record(release_id, kind, actor, reason, weight, *args, **kwargs)
        if kind is EventKind.SHIFTED and weight == 10:
            FailingLedger.broken = True
        return event


def test_a_ledger_gone_mid_release_puts_traffic_back_and_the_next_engine_finishes_the_record(
    engine: Engine,
) -> None:
    from sqlalchemy.exc import OperationalError

    assert deploy(engine, "1.0.0").succeeded and deploy(engine, "1.1.0").succeeded
    serving = engine.backend.weights("api")
    failing = FailingLedger(engine.ledger.url)
    broken = Engine(failing, engine.backend, FAST, SMOKE, poll=0.2)
    try:
        with pytest.raises(OperationalError):
            deploy(broken, "1.2.0")
        assert engine.backend.weights("api") == serving, "traffic went back to the stable colour"
    finally:
        FailingLedger.broken = False
        failing.close()
    interrupted = next(e for e in engine.ledger.recent_events("production", "api") if e.kind is EventKind.STARTED)
    assert engine.ledger.release(interrupted.release_id).version == "1.2.0"
    assert "rolled-back" not in kinds(engine, interrupted.release_id)  # what the failed engine could not write

    nxt = deploy(engine, "1.3.0")  # the next engine to take the lock finishes 1.2.0 first, then releases 1.3.0
    assert nxt.succeeded, nxt.reason
    history = kinds(engine, interrupted.release_id)
    assert history[-2:] == ["failed", "rolled-back"] and "command" in history, history
    assert engine.backend.weights("api")[nxt.release.colour] == 100


class Died(BaseException):
    """The engine's process dies here: nothing in the engine catches it."""


def dies_at(weight: int) -> Callable[[Decision], None]:
    def on_step(decision: Decision) -> None:
        if decision.step is Step.SHIFT and decision.weight == weight:
            raise Died

    return on_step


def test_a_rollback_finishes_a_release_whose_engine_died_holding_the_lock_and_that_run_never_starts_it_again(
    engine: Engine,
) -> None:
    assert deploy(engine, "1.0.0").succeeded and deploy(engine, "1.1.0").succeeded
    stable = engine.backend.weights("api")
    request = ReleaseRequest("production", "api", "1.2.0", "sha1.2.0", "img:1.2.0", "ci", run="flow-run-7")
    dying = Engine(engine.ledger, engine.backend, FAST, SMOKE, poll=0.2, on_step=dies_at(50))
    with pytest.raises(Died):
        dying.deploy(request)
    candidate = next(colour for colour, weight in engine.backend.weights("api").items() if weight == 10)
    engine.ledger.leases.acquire("production", "api", "the dead engine", "release 1.2.0", 1.0)  # its lease outlives it

    result = emergency_rollback(engine.ledger, engine.backend, "production", "api", "dana", "5xx at 10%")
    assert (result.restored.version, result.replaced.version) == ("1.1.0", "1.2.0")
    assert engine.backend.weights("api") == stable and not engine.backend.running("api", candidate)
    history = kinds(engine, result.replaced.id)
    assert "command" in history and history[-1] == "rolled-back", history

    # the flow's task retried (the same run): it reports how its release ended and starts nothing
    again = Engine(engine.ledger, engine.backend, FAST, SMOKE, poll=0.2).deploy(request)
    assert not again.succeeded and again.release.id == result.replaced.id
    starts = [e for e in engine.ledger.recent_events("production", "api") if e.kind is EventKind.STARTED]
    assert [engine.ledger.release(e.release_id).version for e in starts[:2]] == ["1.2.0", "1.1.0"]
    assert engine.backend.weights("api") == stable


def test_a_retried_run_whose_release_a_newer_one_followed_reports_it_and_leaves_the_newer_one_serving(
    engine: Engine,
) -> None:
    assert deploy(engine, "1.0.0").succeeded
    keyed = ReleaseRequest("production", "api", "1.1.0", "sha1.1.0", "img:1.1.0", "ci", run="flow-run-8")
    first = engine.deploy(keyed)
    newer = deploy(engine, "1.2.0")
    assert first.succeeded and newer.succeeded
    serving = engine.backend.weights("api")

    again = engine.deploy(keyed)  # the flow's task retried after 1.2.0 went out
    assert engine.backend.running("api", newer.release.colour), "the retry stopped the colour serving 1.2.0"
    assert engine.backend.weights("api") == serving and serving_version(engine) == {"1.2.0"}
    assert again.succeeded and again.release.id == first.release.id and "1.2.0 was released since" in again.reason
