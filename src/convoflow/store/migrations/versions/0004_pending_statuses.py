"""Pending statuses: delivery statuses that arrived before their wamid was recorded.

Revision ID: 0006_pending_statuses
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pending_statuses"
down_revision: str | None = "0003_keys_ratings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_statuses",
        sa.Column("wamid", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wamid", "status", name=op.f("pk_pending_statuses")),
    )
    op.create_index(
        "ix_pending_statuses_received_at", "pending_statuses", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pending_statuses_received_at", table_name="pending_statuses")
    op.drop_table("pending_statuses")
