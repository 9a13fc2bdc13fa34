import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from shipyard.errors import InputError
from shipyard.ledger import Asked, DecisionKind, EventKind, Ledger
from shipyard.ledger import store as store_module
from shipyard.ledger.models import Base


def release(ledger: Ledger, version: str, colour: str = "blue", app: str = "api") -> int:
    return ledger.start_release("production", app, version, f"sha-{version}", f"img@{version}", colour, "ci").id


def test_migrations_match_the_models_and_rerun_cleanly(ledger: Ledger) -> None:
    ledger.migrate()  # second run is a no-op
    with ledger.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_the_head_revision_is_alembics_and_an_older_ledger_is_upgraded(ledger: Ledger) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(store_module.MIGRATIONS))
    assert store_module.head_revision() == ScriptDirectory.from_config(config).get_current_head()
    with ledger.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")  # a ledger written two releases before the newest migration
    with ledger.engine.connect() as connection:
        assert not {"policies", "approval_codes", "release_locks"} & set(inspect(connection).get_table_names())
    ledger.migrate()  # not at head: Alembic runs
    with ledger.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_full_event_history_in_order_with_who_and_why(ledger: Ledger) -> None:
    rid = release(ledger, "1.0.0")
    ledger.record(rid, EventKind.APPROVED, "alice", "change CHG-42 reviewed", details={"via": "ui"})
    ledger.record(rid, EventKind.HEALTHY, "engine")
    for weight in (10, 50, 100):
        ledger.record(rid, EventKind.SHIFTED, "engine", f"traffic to {weight}%", weight=weight)
    ledger.record(rid, EventKind.PROMOTED, "engine")
    events = ledger.events(rid)
    assert [e.kind for e in events] == [
        EventKind.STARTED,
        EventKind.APPROVED,
        EventKind.HEALTHY,
        EventKind.SHIFTED,
        EventKind.SHIFTED,
        EventKind.SHIFTED,
        EventKind.PROMOTED,
    ]
    assert [e.weight for e in events if e.kind is EventKind.SHIFTED] == [10, 50, 100]
    approved = events[1]
    assert (approved.actor, approved.reason, approved.details) == ("alice", "change CHG-42 reviewed", {"via": "ui"})
    assert all(e.at.tzinfo is not None for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_idempotency_key_records_once(ledger: Ledger) -> None:
    rid = release(ledger, "1.0.0")
    first = ledger.record(rid, EventKind.APPROVED, "alice", idempotency_key="run-1:approved")
    again = ledger.record(rid, EventKind.APPROVED, "alice", idempotency_key="run-1:approved")
    assert first == again
    assert [e.kind for e in ledger.events(rid)].count(EventKind.APPROVED) == 1


def test_current_and_previous_stable(ledger: Ledger) -> None:
    assert ledger.current("production", "api") is None
    r1 = release(ledger, "1.0.0", "blue")
    ledger.record(r1, EventKind.PROMOTED, "engine")
    r2 = release(ledger, "1.1.0", "green")
    ledger.record(r2, EventKind.PROMOTED, "engine")
    r3 = release(ledger, "1.2.0", "blue")
    ledger.record(r3, EventKind.SHIFTED, "engine", weight=10)
    ledger.record(r3, EventKind.ROLLED_BACK, "engine", "error rate 7.0% > 1.0% at 10%")
    other = release(ledger, "9.9.9", app="web")
    ledger.record(other, EventKind.PROMOTED, "engine")
    current, previous = ledger.current("production", "api"), ledger.previous_stable("production", "api")
    assert current is not None and previous is not None
    assert (current.version, previous.version) == ("1.1.0", "1.0.0")
    # emergency rollback: 1.1.0 turns out bad after promotion, 1.0.0 is put back
    ledger.record(r2, EventKind.ROLLED_BACK, "dana", "checkout errors")
    ledger.record(r1, EventKind.RESTORED, "dana", "checkout errors")
    current = ledger.current("production", "api")
    assert current is not None and current.version == "1.0.0"
    assert ledger.previous_stable("production", "api") is None


def test_a_crash_inside_a_write_leaves_nothing_half_written(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(store_module, "_event", crash)
    with pytest.raises(RuntimeError):
        release(ledger, "1.0.0")
    monkeypatch.undo()
    rid = release(ledger, "1.0.1")
    assert ledger.release(rid).version == "1.0.1"
    with ledger.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM releases")).scalar() == 1  # not 2: no orphan


def test_unknown_release_is_bad_input(ledger: Ledger) -> None:
    with pytest.raises(InputError, match="no release with id 42"):
        ledger.record(42, EventKind.NOTE, "x")


def test_decisions_are_kept_in_order_per_environment_and_recorded_once_per_key(ledger: Ledger) -> None:
    sha = "a" * 40
    run_1, run_2 = Asked("production", "run-1", sha, "1.0.0"), Asked("staging", "run-2", sha, "1.0.0")
    again = ledger.decide(run_1, DecisionKind.REQUESTED, "x", "x", idempotency_key="k")
    first = ledger.decide(run_1, DecisionKind.REQUESTED, "y", "y", idempotency_key="k")
    ledger.decide(run_1, DecisionKind.REFUSED, "mallory", "ui", "not an approver")
    ledger.decide(run_2, DecisionKind.APPROVED, "alice", "cli", ticket="CHG-1")
    kinds = [(d.kind, d.actor, d.via, d.reason) for d in ledger.decisions("production")]
    assert kinds == [
        (DecisionKind.REQUESTED, "x", "x", ""),
        (DecisionKind.REFUSED, "mallory", "ui", "not an approver"),
    ]
    assert first == again
    assert [d.ticket for d in ledger.decisions("staging", flow_run_id="run-2")] == ["CHG-1"]
    assert ledger.decisions("staging", flow_run_id="run-1") == []


def test_nightly_results_once_per_run_oldest_first(ledger: Ledger) -> None:
    from datetime import UTC, datetime, timedelta

    from shipyard.ledger.store import NightlyView

    start = datetime(2026, 11, 20, 2, tzinfo=UTC)
    for night in range(3):
        ledger.record_nightly(
            NightlyView(
                f"run-{night}",
                "demo",
                "main",
                f"{night}" * 40,
                night != 1,
                10,
                night,
                0,
                "passed",
                100,
                0.0,
                40.0 + night,
                "ok",
                start + timedelta(days=night),
            )
        )
    ledger.record_nightly(NightlyView("run-2", "demo", "main", "x" * 40, False, 0, 0, 0, None, None, None, None, "",
                                      start))  # fmt: skip
    nights = ledger.nightlies("demo", limit=2)
    assert [(n.flow_run_id, n.checks_failed, n.load_p95_ms) for n in nights] == [("run-1", 1, 41.0), ("run-2", 2, 42.0)]
    assert nights[-1].at == start + timedelta(days=2)
    assert ledger.nightlies("other") == []
