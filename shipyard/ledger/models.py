"""Tables of the ledger. Events are append-only; 'current' and 'previous stable' are derived from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class EnvironmentRow(Base):
    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_environment_app", "environment_id", "app"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    app: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    sha: Mapped[str] = mapped_column(String(64))
    artifact: Mapped[str] = mapped_column(Text)  # image digest or artifact path
    artifact_digest: Mapped[str | None] = mapped_column(String(100))  # shipyard.release.artifact.digest_of
    colour: Mapped[str] = mapped_column(String(10))
    schema_revision: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    environment: Mapped[EnvironmentRow] = relationship()


class EventRow(Base):
    __tablename__ = "release_events"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_release_events_idempotency_key"),
        Index("ix_release_events_release", "release_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    weight: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DecisionRow(Base):
    """A decision about a pipeline run before any release exists: approval requested, approved, rejected, refused
    (a name that may not approve), expired, superseded."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_decisions_idempotency_key"),
        Index("ix_decisions_environment", "environment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    flow_run_id: Mapped[str] = mapped_column(String(64))
    sha: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(40))  # ui, cli, timeout, pipeline
    reason: Mapped[str] = mapped_column(Text, default="")
    ticket: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    environment: Mapped[EnvironmentRow] = relationship()


class NightlyRow(Base):
    """One night's results: the figures the next nights' reports compare against."""

    __tablename__ = "nightly_runs"
    __table_args__ = (UniqueConstraint("flow_run_id", name="uq_nightly_runs_flow_run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(200))
    branch: Mapped[str] = mapped_column(String(200))
    sha: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool]
    checks_passed: Mapped[int]
    checks_failed: Mapped[int]
    checks_unavailable: Mapped[int]
    load_status: Mapped[str | None] = mapped_column(String(20))
    load_requests: Mapped[int | None]
    load_error_rate: Mapped[float | None] = mapped_column(Float)
    load_p95_ms: Mapped[float | None] = mapped_column(Float)
    headline: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyRow(Base):
    """One version of the policy (environments, approvers and their keys, required approvals): kept on Shipyard's
    side, never read from the repository being deployed, and every change is a new row saying who and why."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("version", name="uq_policies_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(80))  # shipyard.digests.document_digest
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApprovalCodeRow(Base):
    """A one-time code for answering one run's approval in the UI, issued to one approver after a signed request.
    Only its hash is kept; the nonce is the signed request's, unique so that a replayed request gets no code."""

    __tablename__ = "approval_codes"
    __table_args__ = (
        UniqueConstraint("code_hash", name="uq_approval_codes_code_hash"),
        UniqueConstraint("nonce", name="uq_approval_codes_nonce"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    approver: Mapped[str] = mapped_column(String(200))
    code_hash: Mapped[str] = mapped_column(String(100))  # shipyard.digests.code_hash
    nonce: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LockRow(Base):
    """The one lock per environment and app every path that changes its traffic takes (deploys, rollbacks, operator
    commands): a lease with an expiry, and a fencing token that grows with every new holder, so a holder that lost
    its lease can no longer write."""

    __tablename__ = "release_locks"
    __table_args__ = (UniqueConstraint("environment", "app", name="uq_release_locks_environment_app"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment: Mapped[str] = mapped_column(String(100))
    app: Mapped[str] = mapped_column(String(100))
    token: Mapped[int]  # 0 before anyone held it; +1 at every acquisition, never reused
    holder: Mapped[str | None] = mapped_column(String(200))  # None once released
    purpose: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CommandNonceRow(Base):
    """A signed command's nonce, kept once it was accepted: the same signed command is never honoured twice."""

    __tablename__ = "command_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    signer: Mapped[str] = mapped_column(String(200))
    command: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
