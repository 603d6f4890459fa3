"""Initial schema: every table of the data model (DESIGN §2).

Revision ID: 0001
Revises:
Create Date: 2026-11-23 18:03:05.896778
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("fallback_template_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("display_phone_number", sa.String(length=32), nullable=False),
        sa.Column("access_token_ref", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_phone_numbers_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_phone_numbers_phone_number_id")),
    )
    op.create_index(op.f("ix_phone_numbers_owner_id"), "phone_numbers", ["owner_id"], unique=False)
    op.create_table(
        "template_specs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("workflow_type", sa.String(length=16), nullable=False),
        sa.Column(
            "default_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "required_tools",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "required_retrievers",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("base_template_name", sa.String(length=200), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "extra_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "workflow_type IN ('plain', 'tools', 'rag', 'full')",
            name=op.f("ck_template_specs_workflow_type_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_template_specs_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_specs")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_template_specs_owner_id_name")),
    )
    op.create_index(
        op.f("ix_template_specs_owner_id"), "template_specs", ["owner_id"], unique=False
    )
    op.create_table(
        "user_types",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_user_types_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_types")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_user_types_owner_id_name")),
    )
    op.create_index(op.f("ix_user_types_owner_id"), "user_types", ["owner_id"], unique=False)
    op.create_table(
        "whatsapp_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_id", sa.String(length=26), nullable=True),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=160), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("wamid", sa.String(length=256), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("template_id", sa.String(length=26), nullable=True),
        sa.Column("step_id", sa.String(length=200), nullable=True),
        sa.Column("instance_id", sa.String(length=26), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_whatsapp_messages_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_messages")),
        sa.UniqueConstraint("wamid", name=op.f("uq_whatsapp_messages_wamid")),
    )
    op.create_index(
        "ix_whatsapp_messages_outbox",
        "whatsapp_messages",
        ["direction", "status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_whatsapp_messages_owner_id_customer",
        "whatsapp_messages",
        ["owner_id", "customer"],
        unique=False,
    )
    op.create_table(
        "workflow_templates",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("template_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=True),
        sa.Column("base_template_id", sa.String(length=26), nullable=True),
        sa.Column("is_builtin", sa.Boolean(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("template_type", sa.String(length=16), nullable=False),
        sa.Column("workflow_type", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column(
            "trigger_keywords",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "menu_structure",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("guidelines", sa.Text(), nullable=True),
        sa.Column(
            "state_schema",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "workflow_dependencies",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("end_action_type", sa.String(length=32), nullable=True),
        sa.Column(
            "end_action_target",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "default_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "required_tools",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "required_retrievers",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("session_ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("success_rate", sa.Float(), nullable=False),
        sa.Column("avg_response_time_ms", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("total_tokens_used", sa.Integer(), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=12, scale=4, asdecimal=False), nullable=False),
        sa.Column("avg_tokens_per_use", sa.Float(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "extra_metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("estimated_complexity", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "template_type IN ('button', 'list', 'text', 'flow')",
            name=op.f("ck_workflow_templates_template_type_valid"),
        ),
        sa.CheckConstraint(
            "workflow_type IN ('plain', 'tools', 'rag', 'full')",
            name=op.f("ck_workflow_templates_workflow_type_valid"),
        ),
        sa.CheckConstraint(
            "rating >= 0 AND rating <= 5", name=op.f("ck_workflow_templates_rating_range")
        ),
        sa.CheckConstraint(
            "success_rate >= 0 AND success_rate <= 1",
            name=op.f("ck_workflow_templates_success_rate_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_workflow_templates_version_positive")),
        sa.ForeignKeyConstraint(
            ["base_template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_workflow_templates_base_template_id_workflow_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_workflow_templates_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_templates")),
        sa.UniqueConstraint(
            "family_id", "version", name=op.f("uq_workflow_templates_family_id_version")
        ),
    )
    op.create_index(
        "ix_workflow_templates_base_template_id",
        "workflow_templates",
        ["base_template_id"],
        unique=False,
    )
    op.create_index(
        "ix_workflow_templates_category", "workflow_templates", ["category"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_config_hash", "workflow_templates", ["config_hash"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_family_id", "workflow_templates", ["family_id"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_is_builtin", "workflow_templates", ["is_builtin"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_is_latest", "workflow_templates", ["is_latest"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_is_public", "workflow_templates", ["is_public"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_owner_id", "workflow_templates", ["owner_id"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_template_name", "workflow_templates", ["template_name"], unique=False
    )
    op.create_index(
        "ix_workflow_templates_template_type", "workflow_templates", ["template_type"], unique=False
    )
    if _is_postgres():
        # GIN makes `'hi' = ANY(trigger_keywords)` an index lookup.
        op.create_index(
            "ix_workflow_templates_trigger_keywords",
            "workflow_templates",
            ["trigger_keywords"],
            unique=False,
            postgresql_using="gin",
        )
    op.create_index(
        "uq_workflow_templates_owner_name_latest",
        "workflow_templates",
        ["owner_id", "template_name"],
        unique=True,
        postgresql_where=sa.text("is_latest"),
        sqlite_where=sa.text("is_latest"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("customer_key", sa.String(length=160), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=True),
        sa.Column("bsuid", sa.String(length=160), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_type_id", sa.String(length=26), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_contacts_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_type_id"],
            ["user_types.id"],
            name=op.f("fk_contacts_user_type_id_user_types"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "owner_id", "customer_key", name=op.f("uq_contacts_owner_id_customer_key")
        ),
    )
    op.create_index("ix_contacts_owner_id_bsuid", "contacts", ["owner_id", "bsuid"], unique=False)
    op.create_index("ix_contacts_owner_id_wa_id", "contacts", ["owner_id", "wa_id"], unique=False)
    op.create_index(op.f("ix_contacts_user_type_id"), "contacts", ["user_type_id"], unique=False)
    op.create_table(
        "conversation_state",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("phone_number", sa.String(length=160), nullable=False),
        sa.Column("conversation_flow", sa.String(length=200), nullable=False),
        sa.Column("current_step", sa.String(length=200), nullable=False),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("instance_id", sa.String(length=26), nullable=True),
        sa.Column("last_interaction", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_conversation_state_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_conversation_state_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_state")),
        sa.UniqueConstraint(
            "owner_id", "phone_number", name=op.f("uq_conversation_state_owner_id_phone_number")
        ),
    )
    op.create_index(
        "ix_conversation_state_conversation_flow",
        "conversation_state",
        ["conversation_flow"],
        unique=False,
    )
    op.create_index(
        "ix_conversation_state_expires_at", "conversation_state", ["expires_at"], unique=False
    )
    op.create_index(
        "ix_conversation_state_phone_number", "conversation_state", ["phone_number"], unique=False
    )
    op.create_table(
        "template_permissions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("user_type_id", sa.String(length=26), nullable=False),
        sa.Column("workflow_template_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_type_id"],
            ["user_types.id"],
            name=op.f("fk_template_permissions_user_type_id_user_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_template_permissions_workflow_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_permissions")),
        sa.UniqueConstraint(
            "user_type_id",
            "workflow_template_id",
            name=op.f("uq_template_permissions_user_type_id_workflow_template_id"),
        ),
    )
    op.create_index(
        op.f("ix_template_permissions_user_type_id"),
        "template_permissions",
        ["user_type_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_template_permissions_workflow_template_id"),
        "template_permissions",
        ["workflow_template_id"],
        unique=False,
    )
    op.create_table(
        "workflow_instances",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("conversation_id", sa.String(length=160), nullable=True),
        sa.Column("user_id", sa.String(length=160), nullable=True),
        sa.Column("contact_id", sa.String(length=26), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.String(length=200), nullable=True),
        sa.Column(
            "state_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pending_dependencies",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("waiting_for", sa.String(length=200), nullable=True),
        sa.Column(
            "visited_steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_interaction", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "end_action_result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_workflow_instances_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_workflow_instances_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_workflow_instances_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_instances")),
    )
    op.create_index(
        "ix_workflow_instances_conversation_id",
        "workflow_instances",
        ["conversation_id"],
        unique=False,
    )
    op.create_index(
        "ix_workflow_instances_owner_id_user_id",
        "workflow_instances",
        ["owner_id", "user_id"],
        unique=False,
    )
    op.create_index("ix_workflow_instances_status", "workflow_instances", ["status"], unique=False)
    op.create_index(
        "ix_workflow_instances_template_id", "workflow_instances", ["template_id"], unique=False
    )
    op.create_table(
        "workflow_effects",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("instance_id", sa.String(length=26), nullable=False),
        sa.Column("effect_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "spec",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instances.id"],
            name=op.f("fk_workflow_effects_instance_id_workflow_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_workflow_effects_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_effects")),
        sa.UniqueConstraint(
            "instance_id", "effect_id", name=op.f("uq_workflow_effects_instance_id_effect_id")
        ),
    )
    op.create_index(
        "ix_workflow_effects_status_next_attempt_at",
        "workflow_effects",
        ["status", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_effects_status_next_attempt_at", table_name="workflow_effects")
    op.drop_table("workflow_effects")
    op.drop_index("ix_workflow_instances_template_id", table_name="workflow_instances")
    op.drop_index("ix_workflow_instances_status", table_name="workflow_instances")
    op.drop_index("ix_workflow_instances_owner_id_user_id", table_name="workflow_instances")
    op.drop_index("ix_workflow_instances_conversation_id", table_name="workflow_instances")
    op.drop_table("workflow_instances")
    op.drop_index(
        op.f("ix_template_permissions_workflow_template_id"), table_name="template_permissions"
    )
    op.drop_index(op.f("ix_template_permissions_user_type_id"), table_name="template_permissions")
    op.drop_table("template_permissions")
    op.drop_index("ix_conversation_state_phone_number", table_name="conversation_state")
    op.drop_index("ix_conversation_state_expires_at", table_name="conversation_state")
    op.drop_index("ix_conversation_state_conversation_flow", table_name="conversation_state")
    op.drop_table("conversation_state")
    op.drop_index(op.f("ix_contacts_user_type_id"), table_name="contacts")
    op.drop_index("ix_contacts_owner_id_wa_id", table_name="contacts")
    op.drop_index("ix_contacts_owner_id_bsuid", table_name="contacts")
    op.drop_table("contacts")
    op.drop_index(
        "uq_workflow_templates_owner_name_latest",
        table_name="workflow_templates",
        postgresql_where=sa.text("is_latest"),
        sqlite_where=sa.text("is_latest"),
    )
    if _is_postgres():
        op.drop_index(
            "ix_workflow_templates_trigger_keywords",
            table_name="workflow_templates",
            postgresql_using="gin",
        )
    op.drop_index("ix_workflow_templates_template_type", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_template_name", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_owner_id", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_is_public", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_is_latest", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_is_builtin", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_family_id", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_config_hash", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_category", table_name="workflow_templates")
    op.drop_index("ix_workflow_templates_base_template_id", table_name="workflow_templates")
    op.drop_table("workflow_templates")
    op.drop_index("ix_whatsapp_messages_owner_id_customer", table_name="whatsapp_messages")
    op.drop_index("ix_whatsapp_messages_outbox", table_name="whatsapp_messages")
    op.drop_table("whatsapp_messages")
    op.drop_index(op.f("ix_user_types_owner_id"), table_name="user_types")
    op.drop_table("user_types")
    op.drop_index(op.f("ix_template_specs_owner_id"), table_name="template_specs")
    op.drop_table("template_specs")
    op.drop_index(op.f("ix_phone_numbers_owner_id"), table_name="phone_numbers")
    op.drop_table("phone_numbers")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
