"""Campaigns: message templates, campaigns, recipients, send batches; outbox priority.

New tables ``message_templates``, ``marketing_campaigns``, ``campaign_recipients`` and
``campaign_send_schedule``. ``contacts`` gains ``tags``, ``opted_out_at`` and
``opt_out_source``; ``whatsapp_messages`` gains ``priority`` (replies 0 before campaign
rows 1) and ``campaign_recipient_id``.

Revision ID: 0006_campaigns
Revises: 0007_drafts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_campaigns"
down_revision: str | None = "0007_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("waba_id", sa.String(length=64), nullable=False),
        sa.Column("graph_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("quality_rating", sa.String(length=16), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("components", _JSON, nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("parameter_count", sa.Integer(), nullable=False),
        _moment("synced_at", nullable=False),
        _moment("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_message_templates_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint(
            "owner_id", "name", "language", name=op.f("uq_message_templates_owner_id_name_language")
        ),
    )
    op.create_index(
        op.f("ix_message_templates_graph_id"), "message_templates", ["graph_id"], unique=False
    )
    op.create_table(
        "marketing_campaigns",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("template_name", sa.String(length=512), nullable=False),
        sa.Column("template_language", sa.String(length=20), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("audience", _JSON, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        _moment("start_at"),
        sa.Column("window_start", sa.String(length=5), nullable=True),
        sa.Column("window_end", sa.String(length=5), nullable=True),
        sa.Column("window_timezone", sa.String(length=16), nullable=False),
        sa.Column("max_mps", sa.Float(), nullable=False),
        sa.Column("reply_template", sa.String(length=200), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        _moment("held_until"),
        _moment("last_batch_at"),
        sa.Column("batches", sa.Integer(), nullable=False),
        _moment("created_at", nullable=False),
        _moment("updated_at", nullable=False),
        _moment("started_at"),
        _moment("finished_at"),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_marketing_campaigns_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_campaigns")),
    )
    op.create_index(
        op.f("ix_marketing_campaigns_owner_id"), "marketing_campaigns", ["owner_id"], unique=False
    )
    op.create_index(
        "ix_marketing_campaigns_status", "marketing_campaigns", ["status"], unique=False
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("customer_key", sa.String(length=160), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=True),
        sa.Column("columns", _JSON, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", _BIGINT, nullable=True),
        sa.Column("wamid", sa.String(length=256), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("defer_count", sa.Integer(), nullable=False),
        _moment("deferred_until"),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        _moment("queued_at"),
        _moment("sent_at"),
        _moment("delivered_at"),
        _moment("read_at"),
        _moment("replied_at"),
        _moment("finished_at"),
        _moment("created_at", nullable=False),
        _moment("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["marketing_campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_marketing_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_campaign_recipients_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id",
            "customer_key",
            name=op.f("uq_campaign_recipients_campaign_id_customer_key"),
        ),
    )
    op.create_index(
        "ix_campaign_recipients_campaign_id_status",
        "campaign_recipients",
        ["campaign_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_recipients_owner_id_customer_key",
        "campaign_recipients",
        ["owner_id", "customer_key"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_recipients_owner_id_queued_at",
        "campaign_recipients",
        ["owner_id", "queued_at"],
        unique=False,
    )
    op.create_table(
        "campaign_send_schedule",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("deferred", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("first_message_id", _BIGINT, nullable=True),
        sa.Column("last_message_id", _BIGINT, nullable=True),
        _moment("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["marketing_campaigns.id"],
            name=op.f("fk_campaign_send_schedule_campaign_id_marketing_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_send_schedule")),
        sa.UniqueConstraint(
            "campaign_id", "sequence", name=op.f("uq_campaign_send_schedule_campaign_id_sequence")
        ),
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(_moment("opted_out_at"))
        batch.add_column(sa.Column("opt_out_source", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("tags", _JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("campaign_recipient_id", sa.String(length=26), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.drop_column("campaign_recipient_id")
        batch.drop_column("priority")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("tags")
        batch.drop_column("opt_out_source")
        batch.drop_column("opted_out_at")
    op.drop_table("campaign_send_schedule")
    op.drop_index("ix_campaign_recipients_owner_id_queued_at", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_owner_id_customer_key", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_campaign_id_status", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_marketing_campaigns_status", table_name="marketing_campaigns")
    op.drop_index(op.f("ix_marketing_campaigns_owner_id"), table_name="marketing_campaigns")
    op.drop_table("marketing_campaigns")
    op.drop_index(op.f("ix_message_templates_graph_id"), table_name="message_templates")
    op.drop_table("message_templates")
