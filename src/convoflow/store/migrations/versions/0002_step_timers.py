"""Step timers: the waiting step's timer on ``conversation_state``, indexed by due time.

Revision ID: 0002_timers
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_timers"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table, PostgreSQL alters it in place.
    with op.batch_alter_table("conversation_state") as batch:
        batch.add_column(sa.Column("timer_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("timer_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_conversation_state_timer_due_at", ["timer_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversation_state") as batch:
        batch.drop_index("ix_conversation_state_timer_due_at")
        batch.drop_column("timer_due_at")
        batch.drop_column("timer_id")
