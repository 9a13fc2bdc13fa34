"""Reading and appending to the ledger. Each call is one transaction: a crash between two calls leaves the ledger
saying exactly which steps of a release happened."""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.digests import canonical, document_digest
from shipyard.errors import InputError
from shipyard.ledger.leases import Lease, Leases
from shipyard.ledger.models import (
    ApprovalCodeRow,
    CommandNonceRow,
    DecisionRow,
    EnvironmentRow,
    EventRow,
    NightlyRow,
    PolicyRow,
    ReleaseRow,
)

MIGRATIONS = Path(__file__).parent / "migrations"
V = TypeVar("V")
POLICY_WRITE_ATTEMPTS = 5
CODE_HASH = re.compile(r"sha256:[0-9a-f]{64}")  # shipyard.digests.code_hash


class EventKind(StrEnum):
    STARTED = "started"
    HEALTHY = "healthy"
    SMOKE_PASSED = "smoke-passed"
    SMOKE_FAILED = "smoke-failed"
    SHIFTED = "shifted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROMOTED = "promoted"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    RESTORED = "restored"  # put back at 100% by an emergency rollback
    SCALED_DOWN = "scaled-down"
    NOTE = "note"
    COMMAND = "command"  # an operator's abort, promote, pause or resume (details["command"]), with who and why


SERVING = (EventKind.PROMOTED, EventKind.RESTORED)


class DecisionKind(StrEnum):
    REQUESTED = "requested"  # the run waits for an approval
    APPROVED = "approved"
    REJECTED = "rejected"
    REFUSED = "refused"  # a decision from a name that may not give it, or a proof that failed; the run waits again
    UNVERIFIED = "unverified"  # an answer with no proof of who gave it: recorded, not counted; the run waits again
    ENDORSED = "endorsed"  # a verified approval counted, more needed; the run waits again
    MISMATCH = "mismatch"  # what would ship is not what was approved: nothing deployed
    RELEASING = "releasing"  # the approved run's cutover started; the run never cuts over again
    EXPIRED = "expired"  # nobody decided before the timeout: a rejection
    SUPERSEDED = "superseded"  # a newer commit was approved first; this one never deploys
    ABANDONED = "abandoned"  # the run ended (cancelled, crashed, deleted) before anyone decided


WAITING = frozenset({DecisionKind.REQUESTED, DecisionKind.REFUSED, DecisionKind.UNVERIFIED, DecisionKind.ENDORSED})


class CodeUse(StrEnum):
    """What spending a one-time approval code came to; only ACCEPTED lets the answer count."""

    ACCEPTED = "accepted"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "already used"
    OTHER_RUN = "issued for another run or approver"


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    document: dict[str, Any]
    digest: str  # shipyard.digests.document_digest of the document
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class DecisionView:
    id: int
    environment: str
    flow_run_id: str
    sha: str
    version: str
    kind: DecisionKind
    actor: str
    via: str
    reason: str
    ticket: str | None
    details: dict[str, Any]
    at: datetime

    @property
    def about(self) -> Asked:
        return Asked(self.environment, self.flow_run_id, self.sha, self.version)


@dataclass(frozen=True)
class Asked:
    """What a decision is about: one flow run asking to release a commit to an environment."""

    environment: str
    flow_run_id: str
    sha: str
    version: str


@dataclass(frozen=True)
class ReleaseView:
    id: int
    environment: str
    app: str
    version: str
    sha: str
    artifact: str
    colour: str
    schema_revision: str | None
    created_by: str
    created_at: datetime
    artifact_digest: str | None = None


@dataclass(frozen=True)
class NightlyView:
    flow_run_id: str
    project: str
    branch: str
    sha: str
    passed: bool
    checks_passed: int
    checks_failed: int
    checks_unavailable: int
    load_status: str | None
    load_requests: int | None
    load_error_rate: float | None
    load_p95_ms: float | None
    headline: str
    at: datetime


@dataclass(frozen=True)
class EventView:
    id: int
    release_id: int
    kind: EventKind
    weight: int | None
    actor: str
    reason: str
    details: dict[str, Any]
    at: datetime


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.leases = Leases(self._sessions)  # the lock per environment and app

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic); safe to run on every start. A ledger already there
        is answered from its version table: importing Alembic cost each flow run and CLI call about 0.8 CPU s."""
        with self.engine.begin() as connection:
            if _revision(connection) == head_revision():
                return
        with self._migrating(), self.engine.begin() as connection:
            if _revision(connection) == head_revision():
                return  # another process upgraded it while this one waited
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextlib.contextmanager
    def _migrating(self) -> Iterator[None]:
        """One upgrade at a time across processes (two commands started together on a new version would both
        create the same table): a file lock next to a SQLite ledger, an advisory lock on PostgreSQL."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                    connection.commit()
            return
        with open(f"{self.url.removeprefix('sqlite:///')}.migrating", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def close(self) -> None:
        self.engine.dispose()

    def start_release(
        self,
        environment: str,
        app: str,
        version: str,
        sha: str,
        artifact: str,
        colour: str,
        actor: str,
        schema_revision: str | None = None,
        reason: str = "",
        artifact_digest: str | None = None,
        fence: Lease | None = None,
        idempotency_key: str | None = None,
    ) -> ReleaseView:
        """Create the release and its 'started' event together, or neither (nor either when `fence` is a lease
        another holder has taken). The key, on the 'started' event, finds the release again (event_by_key)."""
        now = _now()
        with self._sessions.begin() as session:
            if fence is not None:
                Leases.fence(session, fence)
            env = self._environment(session, environment, now)
            row = ReleaseRow(
                environment_id=env.id,
                app=app,
                version=version,
                sha=sha,
                artifact=artifact,
                artifact_digest=artifact_digest,
                colour=colour,
                schema_revision=schema_revision,
                created_by=actor,
                created_at=now,
            )
            session.add(row)
            session.flush()
            session.add(_event(row.id, EventKind.STARTED, actor, reason, None, {}, idempotency_key, now))
            return _release_view(row, environment)

    def record(
        self,
        release_id: int,
        kind: EventKind,
        actor: str,
        reason: str = "",
        weight: int | None = None,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        fence: Lease | None = None,
    ) -> EventView:
        """Append one event; with an idempotency key, a repeat returns the first event instead of adding one. With
        `fence`, only while that lease still holds the lock (LeaseLost otherwise)."""

        def insert() -> EventView:
            with self._sessions.begin() as session:
                if fence is not None:
                    Leases.fence(session, fence)
                if session.get(ReleaseRow, release_id) is None:
                    raise InputError(f"no release with id {release_id} in the ledger")
                row = _event(release_id, kind, actor, reason, weight, details or {}, idempotency_key, _now())
                session.add(row)
                session.flush()
                return _event_view(row)

        return _once(idempotency_key, self.event_by_key, insert)

    def count_events(self, release_id: int, kind: EventKind) -> int:
        """How many events of this kind the release has (a cheap look for news, without reading them)."""
        with self._sessions() as session:
            query = select(func.count()).where(EventRow.release_id == release_id, EventRow.kind == kind.value)
            return int(session.scalar(query) or 0)

    def release(self, release_id: int) -> ReleaseView:
        with self._sessions() as session:
            row = session.get(ReleaseRow, release_id)
            if row is None:
                raise InputError(f"no release with id {release_id} in the ledger")
            return _release_view(row, row.environment.name)

    def events(self, release_id: int) -> list[EventView]:
        with self._sessions() as session:
            rows = session.scalars(select(EventRow).where(EventRow.release_id == release_id).order_by(EventRow.id))
            return [_event_view(r) for r in rows]

    def stable_stack(self, environment: str, app: str) -> list[ReleaseView]:
        """Releases that served as stable, newest first, minus the ones later rolled back."""
        with self._sessions() as session:
            query = (
                select(EventRow, ReleaseRow)
                .join(ReleaseRow, EventRow.release_id == ReleaseRow.id)
                .join(EnvironmentRow, ReleaseRow.environment_id == EnvironmentRow.id)
                .where(EnvironmentRow.name == environment, ReleaseRow.app == app)
                .where(EventRow.kind.in_([*SERVING, EventKind.ROLLED_BACK]))
                .order_by(EventRow.id)
            )
            stack: list[ReleaseView] = []
            for event_row, release_row in session.execute(query).tuples():
                stack = [r for r in stack if r.id != release_row.id]
                if event_row.kind in SERVING:
                    stack.insert(0, _release_view(release_row, environment))
            return stack

    def current(self, environment: str, app: str) -> ReleaseView | None:
        stack = self.stable_stack(environment, app)
        return stack[0] if stack else None

    def previous_stable(self, environment: str, app: str) -> ReleaseView | None:
        stack = self.stable_stack(environment, app)
        return stack[1] if len(stack) > 1 else None

    def recent_events(self, environment: str, app: str | None = None, limit: int = 20) -> list[EventView]:
        with self._sessions() as session:
            query = (
                select(EventRow)
                .join(ReleaseRow, EventRow.release_id == ReleaseRow.id)
                .join(EnvironmentRow, ReleaseRow.environment_id == EnvironmentRow.id)
                .where(EnvironmentRow.name == environment)
                .order_by(EventRow.id.desc())
                .limit(limit)
            )
            if app is not None:
                query = query.where(ReleaseRow.app == app)
            return [_event_view(r) for r in session.scalars(query)]

    def decide(
        self,
        about: Asked,
        kind: DecisionKind,
        actor: str,
        via: str,
        reason: str = "",
        *,
        ticket: str | None = None,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> DecisionView:
        """Record a decision; with an idempotency key a repeat (a resumed run re-running its gate) returns the first."""

        def insert() -> DecisionView:
            now = _now()
            with self._sessions.begin() as session:
                env = self._environment(session, about.environment, now)
                row = DecisionRow(
                    environment_id=env.id,
                    flow_run_id=about.flow_run_id,
                    sha=about.sha,
                    version=about.version,
                    kind=kind.value,
                    actor=actor,
                    via=via,
                    reason=reason,
                    ticket=ticket,
                    details=details or {},
                    idempotency_key=idempotency_key,
                    at=now,
                )
                session.add(row)
                session.flush()
                return _decision_view(row, about.environment)

        return _once(idempotency_key, self.decision, insert)

    def decisions(self, environment: str, flow_run_id: str | None = None) -> list[DecisionView]:
        """Decisions in the order they were made."""
        with self._sessions() as session:
            query = (
                select(DecisionRow)
                .join(EnvironmentRow, DecisionRow.environment_id == EnvironmentRow.id)
                .where(EnvironmentRow.name == environment)
                .order_by(DecisionRow.id)
            )
            if flow_run_id is not None:
                query = query.where(DecisionRow.flow_run_id == flow_run_id)
            return [_decision_view(r, environment) for r in session.scalars(query)]

    def record_nightly(self, night: NightlyView) -> None:
        """Once per flow run: a re-run of the same run keeps the first record."""
        with contextlib.suppress(IntegrityError), self._sessions.begin() as session:  # recorded already by this run
            session.add(NightlyRow(**night.__dict__))

    def nightlies(self, project: str, limit: int = 14) -> list[NightlyView]:
        """The last nights, oldest first."""
        with self._sessions() as session:
            query = select(NightlyRow).where(NightlyRow.project == project).order_by(NightlyRow.id.desc()).limit(limit)
            rows = list(session.scalars(query))
        fields = [f for f in NightlyView.__dataclass_fields__ if f != "at"]
        return [NightlyView(**{f: getattr(r, f) for f in fields}, at=_utc(r.at)) for r in reversed(rows)]

    def set_policy(self, document: dict[str, Any], actor: str, reason: str) -> PolicyVersion:
        """Append the document as the next version, with who and why; a document equal to the current one (same
        digest) returns the current version and adds nothing, so applying one policy twice is one change. Of writers
        at once, each one that lost version N+1 to another reads its row and tries again."""
        if not actor.strip() or not reason.strip():
            raise InputError("a policy change needs who makes it and why: actor and reason must not be blank")
        try:
            stored = json.loads(canonical(document))  # what reading it back gives: tuples are lists
        except (TypeError, ValueError) as exc:
            raise InputError(f"the policy document is not plain JSON: {exc}") from exc
        digest = document_digest(stored)

        def append() -> PolicyVersion:
            with self._sessions.begin() as session:
                latest = session.scalar(select(PolicyRow).order_by(PolicyRow.version.desc()).limit(1))
                if latest is not None and latest.digest == digest:
                    return _policy_view(latest)
                version = latest.version + 1 if latest is not None else 1
                row = PolicyRow(version=version, document=stored, digest=digest, actor=actor, reason=reason, at=_now())
                session.add(row)
                session.flush()
                return _policy_view(row)

        for _ in range(POLICY_WRITE_ATTEMPTS - 1):
            with contextlib.suppress(IntegrityError):  # another writer took the version number first: read theirs
                return append()
        return append()

    def policy(self) -> PolicyVersion | None:
        """The policy in force: the latest version."""
        with self._sessions() as session:
            row = session.scalar(select(PolicyRow).order_by(PolicyRow.version.desc()).limit(1))
            return _policy_view(row) if row is not None else None

    def policy_history(self) -> list[PolicyVersion]:
        """Every version, oldest first."""
        with self._sessions() as session:
            return [_policy_view(r) for r in session.scalars(select(PolicyRow).order_by(PolicyRow.version))]

    def issue_code(self, flow_run_id: str, approver: str, code_hash: str, nonce: str, expires_at: datetime) -> None:
        """Keep a code (its hash) for one approver's answer to one run. The nonce is the signed request's: a request
        seen before is refused, so replaying a captured request gets nobody a code."""
        if not CODE_HASH.fullmatch(code_hash):
            raise InputError("a code is kept as its hash (shipyard.digests.code_hash), never as itself")
        if not nonce.strip():
            raise InputError("a code request needs its nonce")
        row = ApprovalCodeRow(
            flow_run_id=flow_run_id,
            approver=approver,
            code_hash=code_hash,
            nonce=nonce,
            expires_at=_as_utc(expires_at, "expires_at"),
            created_at=_now(),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            with self._sessions() as session:
                replayed = session.scalar(select(ApprovalCodeRow.id).where(ApprovalCodeRow.nonce == nonce))
            if replayed is not None:
                raise InputError("this code request was already answered (replayed?)") from exc
            raise InputError("this code was issued before: a code must be fresh and random") from exc

    def spend_nonce(self, nonce: str, signer: str, command: str) -> None:
        """Accept a signed command's nonce once: a replay of the same signed command is refused (InputError)."""
        if not 16 <= len(nonce) <= 64:
            raise InputError("nonce: expected 16 to 64 characters (a fresh random one per signed command)")
        try:
            with self._sessions.begin() as session:
                session.add(CommandNonceRow(nonce=nonce, signer=signer, command=command, used_at=_now()))
        except IntegrityError as exc:
            raise InputError(f"this signed command was used before (nonce {nonce}): sign a new one") from exc

    def use_code(self, flow_run_id: str, approver: str, code_hash: str, now: datetime | None = None) -> CodeUse:
        """Spend a code: ACCEPTED for exactly one caller however many race, because the one conditional UPDATE
        that spends it is also the check (its row count says who won); everyone else is told why not."""
        at = _as_utc(now, "now") if now is not None else _now()
        spend = (
            update(ApprovalCodeRow)
            .where(ApprovalCodeRow.code_hash == code_hash, ApprovalCodeRow.flow_run_id == flow_run_id)
            .where(ApprovalCodeRow.approver == approver, ApprovalCodeRow.used_at.is_(None))
            .where(ApprovalCodeRow.expires_at > at)
            .values(used_at=at)
        )
        with self._sessions.begin() as session:
            if session.connection().execute(spend).rowcount == 1:
                return CodeUse.ACCEPTED
            row = session.scalar(select(ApprovalCodeRow).where(ApprovalCodeRow.code_hash == code_hash))
            return _code_refused(row, flow_run_id, approver)

    def decision(self, key: str) -> DecisionView | None:
        """The decision recorded under this idempotency key, if any."""
        with self._sessions() as session:
            row = session.scalar(select(DecisionRow).where(DecisionRow.idempotency_key == key))
            return _decision_view(row, row.environment.name) if row else None

    def event_by_key(self, key: str) -> EventView | None:
        with self._sessions() as session:
            row = session.scalar(select(EventRow).where(EventRow.idempotency_key == key))
            return _event_view(row) if row else None

    @staticmethod
    def _environment(session: Session, name: str, now: datetime) -> EnvironmentRow:
        env = session.scalar(select(EnvironmentRow).where(EnvironmentRow.name == name))
        if env is None:
            env = EnvironmentRow(name=name, created_at=now)
            session.add(env)
            session.flush()
        return env


def _once(key: str | None, find: Callable[[str], V | None], insert: Callable[[], V]) -> V:
    """insert() once per idempotency key: a repeat, or a concurrent writer that got there first, returns theirs."""
    if key is not None and (existing := find(key)) is not None:
        return existing
    try:
        return insert()
    except IntegrityError:
        existing = find(key) if key is not None else None
        if existing is None:
            raise
        return existing


def _event(
    release_id: int,
    kind: EventKind,
    actor: str,
    reason: str,
    weight: int | None,
    details: dict[str, Any],
    key: str | None,
    at: datetime,
) -> EventRow:
    return EventRow(
        release_id=release_id,
        kind=kind.value,
        actor=actor,
        reason=reason,
        weight=weight,
        details=details,
        idempotency_key=key,
        at=at,
    )


def _release_view(row: ReleaseRow, environment: str) -> ReleaseView:
    return ReleaseView(
        id=row.id,
        environment=environment,
        app=row.app,
        version=row.version,
        sha=row.sha,
        artifact=row.artifact,
        artifact_digest=row.artifact_digest,
        colour=row.colour,
        schema_revision=row.schema_revision,
        created_by=row.created_by,
        created_at=_utc(row.created_at),
    )


def _event_view(row: EventRow) -> EventView:
    return EventView(
        id=row.id,
        release_id=row.release_id,
        kind=EventKind(row.kind),
        weight=row.weight,
        actor=row.actor,
        reason=row.reason,
        details=dict(row.details or {}),
        at=_utc(row.at),
    )


def _decision_view(row: DecisionRow, environment: str) -> DecisionView:
    return DecisionView(
        id=row.id,
        environment=environment,
        flow_run_id=row.flow_run_id,
        sha=row.sha,
        version=row.version,
        kind=DecisionKind(row.kind),
        actor=row.actor,
        via=row.via,
        reason=row.reason,
        ticket=row.ticket,
        details=dict(row.details or {}),
        at=_utc(row.at),
    )


def _policy_view(row: PolicyRow) -> PolicyVersion:
    return PolicyVersion(row.version, dict(row.document), row.digest, row.actor, row.reason, _utc(row.at))


def _code_refused(row: ApprovalCodeRow | None, flow_run_id: str, approver: str) -> CodeUse:
    """Why a code that was not spent was not: called only after the spending UPDATE matched nothing."""
    if row is None:
        return CodeUse.UNKNOWN
    if (row.flow_run_id, row.approver) != (flow_run_id, approver):
        return CodeUse.OTHER_RUN
    return CodeUse.USED if row.used_at is not None else CodeUse.EXPIRED


def _as_utc(value: datetime, what: str) -> datetime:
    """An aware time in UTC: SQLite keeps the wall-clock digits alone, so every time it compares must be in UTC."""
    if value.tzinfo is None:
        raise InputError(f"{what} must carry its time zone (a naive datetime is ambiguous)")
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


MIGRATION_LOCK = 0x5348495059  # the advisory lock upgrades take on PostgreSQL ('SHIPY')


def head_revision() -> str:
    """The newest migration's revision: each file under migrations/versions is named after its revision."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _revision(connection: Any) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(revision) if revision is not None else None
