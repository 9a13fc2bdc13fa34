"""The lock on an environment's app: a lease in the ledger's database, so it holds across processes and machines.

Each acquisition is one conditional UPDATE (taken only if free or expired) and bumps the row's fencing token; a
write that must come from the holder first touches the row where the token is still its own, in the same
transaction. On PostgreSQL that UPDATE waits for, then re-reads, a concurrent acquisition; on SQLite it takes the
database's write lock. Either way a holder whose lease another took cannot write: its token is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Update, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import InputError, ShipyardError
from shipyard.ledger.models import LockRow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    environment: str
    app: str
    holder: str
    purpose: str
    token: int
    expires_at: datetime


class LockHeld(InputError):
    """Someone else holds the app's lock: says who, what for, and until when."""

    def __init__(self, held: Lease) -> None:
        super().__init__(
            f"{held.app} in {held.environment} is locked by {held.holder} ({held.purpose}) until "
            f"{held.expires_at:%H:%M:%S} UTC; try again when it is done"
        )
        self.held = held


class LeaseLost(ShipyardError):
    """This holder's lease expired and another took the lock: it must not write or act any more."""


class Leases:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def acquire(self, environment: str, app: str, holder: str, purpose: str, seconds: float) -> Lease:
        """The lock, or LockHeld naming who has it."""
        self._ensure_row(environment, app)
        with self._sessions.begin() as session:
            now = _now(session)
            take = (
                update(LockRow)
                .where(LockRow.environment == environment, LockRow.app == app)
                .where(or_(LockRow.holder.is_(None), LockRow.expires_at < now))
                .values(holder=holder, purpose=purpose, token=LockRow.token + 1, acquired_at=now,
                        expires_at=now + timedelta(seconds=seconds))
            )  # fmt: skip
            taken = session.connection().execute(take).rowcount == 1
            row = session.scalar(select(LockRow).where(LockRow.environment == environment, LockRow.app == app))
            assert row is not None
            lease = _lease(row)
        if not taken:
            raise LockHeld(lease)
        return lease

    def renew(self, lease: Lease, seconds: float) -> Lease:
        """The same lease for longer; LeaseLost when another holder took it meanwhile."""
        with self._sessions.begin() as session:
            expires = _now(session) + timedelta(seconds=seconds)
            if session.connection().execute(_mine(lease).values(expires_at=expires)).rowcount != 1:
                raise LeaseLost(_lost(lease))
        return Lease(lease.environment, lease.app, lease.holder, lease.purpose, lease.token, expires)

    def release(self, lease: Lease) -> None:
        """Free the lock if it is still this lease's (a lost lease frees nothing)."""
        with self._sessions.begin() as session:
            session.connection().execute(_mine(lease).values(holder=None, expires_at=_now(session)))

    def holder(self, environment: str, app: str) -> Lease | None:
        """Who holds the lock now, if anyone."""
        with self._sessions() as session:
            row = session.scalar(select(LockRow).where(LockRow.environment == environment, LockRow.app == app))
            return _lease(row) if row is not None and row.holder and _utc(row.expires_at) > _now(session) else None

    @staticmethod
    def fence(session: Session, lease: Lease) -> None:
        """In the caller's write transaction: go on only while the lock is still this lease's."""
        if session.connection().execute(_mine(lease).values(token=lease.token)).rowcount != 1:
            raise LeaseLost(_lost(lease))

    def _ensure_row(self, environment: str, app: str) -> None:
        try:
            with self._sessions.begin() as session:
                if session.scalar(select(LockRow.id).where(LockRow.environment == environment, LockRow.app == app)):
                    return
                session.add(LockRow(environment=environment, app=app, token=0, holder=None, purpose="",
                                    expires_at=EPOCH, acquired_at=EPOCH))  # fmt: skip
        except IntegrityError:
            pass  # another process made it first


def _mine(lease: Lease) -> Update:
    return (
        update(LockRow)
        .where(LockRow.environment == lease.environment, LockRow.app == lease.app, LockRow.token == lease.token)
        .where(LockRow.holder == lease.holder)
    )


def _lost(lease: Lease) -> str:
    return (
        f"the lock on {lease.app} in {lease.environment} is no longer {lease.holder}'s (token {lease.token}): its "
        "lease ran out and another holder took it; this one stops without writing"
    )


def _lease(row: LockRow) -> Lease:
    return Lease(row.environment, row.app, row.holder or "", row.purpose, row.token, _utc(row.expires_at))


def _now(session: Session) -> datetime:
    """The database's clock on PostgreSQL, where holders on several machines share the lock and their clocks may
    differ; SQLite is one file on one machine, whose clock every holder reads."""
    if session.get_bind().dialect.name == "postgresql":
        now: datetime = session.execute(select(func.clock_timestamp())).scalar_one()
        return _utc(now)
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
