"""ledger: each release records the digest of what it ships, checked again before a colour starts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as table:
        table.add_column(sa.Column("artifact_digest", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as table:
        table.drop_column("artifact_digest")
