"""index properties by price

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_properties_price", "properties", ["price"])


def downgrade() -> None:
    # Deliberately broken (variant broken-migration): drops an index that does not exist.
    op.drop_index("ix_properties_cost", table_name="properties")
