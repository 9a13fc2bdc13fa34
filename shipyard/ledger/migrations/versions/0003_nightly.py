"""ledger: nightly suite results, for trends

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nightly_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("checks_passed", sa.Integer(), nullable=False),
        sa.Column("checks_failed", sa.Integer(), nullable=False),
        sa.Column("checks_unavailable", sa.Integer(), nullable=False),
        sa.Column("load_status", sa.String(20), nullable=True),
        sa.Column("load_requests", sa.Integer(), nullable=True),
        sa.Column("load_error_rate", sa.Float(), nullable=True),
        sa.Column("load_p95_ms", sa.Float(), nullable=True),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("flow_run_id", name="uq_nightly_runs_flow_run_id"),
    )


def downgrade() -> None:
    op.drop_table("nightly_runs")
