"""The messaging limit counts every business-initiated conversation, not only campaigns.

``whatsapp_messages`` gains ``outside_window``: set when a template went out while the
customer's service window was closed; a partial index on ``(owner_id, sent_at)`` keeps the
count of the moving 24 hours to those rows.

Revision ID: 0007_campaign_tier
Revises: 0006_llm
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_campaign_tier"
down_revision: str | None = "0006_llm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.add_column(sa.Column("outside_window", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_whatsapp_messages_outside_window",
        "whatsapp_messages",
        ["owner_id", "sent_at"],
        postgresql_where=sa.text("outside_window"),
        sqlite_where=sa.text("outside_window"),
    )


def downgrade() -> None:
    op.drop_index("ix_whatsapp_messages_outside_window", table_name="whatsapp_messages")
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.drop_column("outside_window")
