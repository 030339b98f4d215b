"""Indexes for the audience scan and case-insensitive contact lookups

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_subscriptions_audience",
        "subscriptions",
        ["list_id", "channel", "profile_id"],
    )
    op.create_index(
        "ix_subscriptions_contact",
        "subscriptions",
        ["channel", sa.literal_column("lower(contact)")],
    )
    op.create_index(
        "ix_stop_list_contact",
        "stop_list",
        ["channel", sa.literal_column("lower(contact)")],
    )


def downgrade() -> None:
    op.drop_index("ix_stop_list_contact", table_name="stop_list")
    op.drop_index("ix_subscriptions_contact", table_name="subscriptions")
    op.drop_index("ix_subscriptions_audience", table_name="subscriptions")
