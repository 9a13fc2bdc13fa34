"""ledger: one lock per environment and app (a lease with a fencing token) for every path that changes traffic

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_locks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("app", sa.String(100), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("environment", "app", name="uq_release_locks_environment_app"),
    )


def downgrade() -> None:
    op.drop_table("release_locks")
