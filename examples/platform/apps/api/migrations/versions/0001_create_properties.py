"""create properties

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "properties",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=False),
        sa.Column("bedrooms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name="ck_properties_price_non_negative"),
        sa.CheckConstraint("bedrooms >= 0", name="ck_properties_bedrooms_non_negative"),
    )
    op.create_index("ix_properties_city", "properties", ["city"])


def downgrade() -> None:
    op.drop_index("ix_properties_city", table_name="properties")
    op.drop_table("properties")
