"""Insights: handoffs to people, the agent of a message, and the daily funnel counters.

``handoffs`` records each conversation handed to a person (reason, start, release, agent);
``whatsapp_messages.agent_id`` names the person who wrote an outbound message; the
statistics aggregator adds up ``step_visit_counts``, ``step_edge_counts`` and
``template_day_counts`` per template version and day.

Revision ID: 0006_insights
Revises: 0005_tenancy
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_insights"
down_revision: str | None = "0005_tenancy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counter_keys(table: str) -> list[Any]:
    """The owner and template columns of a counter table, with their foreign keys."""
    return [
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f(f"fk_{table}_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f(f"fk_{table}_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("customer_key", sa.String(length=160), nullable=False),
        sa.Column("instance_id", sa.String(length=26), nullable=True),
        sa.Column("template_id", sa.String(length=26), nullable=True),
        sa.Column("step_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=16), nullable=True),
        sa.Column("agent_id", sa.String(length=26), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_handoffs_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_handoffs_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(
        "uq_handoffs_open",
        "handoffs",
        ["owner_id", "customer_key"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
        sqlite_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "ix_handoffs_owner_id_started_at", "handoffs", ["owner_id", "started_at"], unique=False
    )
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.add_column(sa.Column("agent_id", sa.String(length=26), nullable=True))
    op.create_table(
        "step_visit_counts",
        *_counter_keys("step_visit_counts"),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id", "template_id", "step_id", "day", name=op.f("pk_step_visit_counts")
        ),
    )
    op.create_table(
        "step_edge_counts",
        *_counter_keys("step_edge_counts"),
        sa.Column("from_step", sa.String(length=200), nullable=False),
        sa.Column("to_step", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id",
            "template_id",
            "from_step",
            "to_step",
            "day",
            name=op.f("pk_step_edge_counts"),
        ),
    )
    op.create_table(
        "template_day_counts",
        *_counter_keys("template_day_counts"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("timed_starts", sa.Integer(), nullable=False),
        sa.Column("response_ms_total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id", "template_id", "day", name=op.f("pk_template_day_counts")
        ),
    )


def downgrade() -> None:
    op.drop_table("template_day_counts")
    op.drop_table("step_edge_counts")
    op.drop_table("step_visit_counts")
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.drop_column("agent_id")
    op.drop_index("ix_handoffs_owner_id_started_at", table_name="handoffs")
    op.drop_index("uq_handoffs_open", table_name="handoffs")
    op.drop_table("handoffs")
