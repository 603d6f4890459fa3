"""The builder: template drafts, simulator sessions and the snapshots of drafts they run.

``template_drafts`` holds one unpublished working copy per template family;
``simulator_sessions`` the builder's test customers; ``draft_snapshots`` names the
``workflow_templates`` rows that are snapshots of a draft run by the simulator (never
latest, never active). No existing table changes: rebuilding ``workflow_templates`` on
SQLite would cascade into every row that refers to it.

Revision ID: 0007_drafts
Revises: 0005_tenancy
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_drafts"
down_revision: str | None = "0006_insights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "draft_snapshots",
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_draft_snapshots_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["workflow_templates.id"],
            name=op.f("fk_draft_snapshots_family_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("template_id", name=op.f("pk_draft_snapshots")),
    )
    op.create_index(
        op.f("ix_draft_snapshots_family_id"), "draft_snapshots", ["family_id"], unique=False
    )
    op.create_table(
        "template_drafts",
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("problems", _JSON, nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["workflow_templates.id"],
            name=op.f("fk_template_drafts_family_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_template_drafts_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_template_drafts_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_template_drafts")),
    )
    op.create_index(
        op.f("ix_template_drafts_owner_id"), "template_drafts", ["owner_id"], unique=False
    )
    op.create_table(
        "simulator_sessions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("family_id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=False),
        sa.Column("use_draft", sa.Boolean(), nullable=False),
        sa.Column("user_type_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_simulator_sessions_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_simulator_sessions_template_id_workflow_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_type_id"],
            ["user_types.id"],
            name=op.f("fk_simulator_sessions_user_type_id_user_types"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulator_sessions")),
    )
    op.create_index(
        op.f("ix_simulator_sessions_owner_id"), "simulator_sessions", ["owner_id"], unique=False
    )
    op.create_index(
        op.f("ix_simulator_sessions_template_id"),
        "simulator_sessions",
        ["template_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_simulator_sessions_template_id"), table_name="simulator_sessions")
    op.drop_index(op.f("ix_simulator_sessions_owner_id"), table_name="simulator_sessions")
    op.drop_table("simulator_sessions")
    op.drop_index(op.f("ix_template_drafts_owner_id"), table_name="template_drafts")
    op.drop_table("template_drafts")
    # Snapshots of drafts have no meaning without the builder.
    op.execute(
        "DELETE FROM workflow_templates WHERE id IN (SELECT template_id FROM draft_snapshots)"
    )
    op.drop_index(op.f("ix_draft_snapshots_family_id"), table_name="draft_snapshots")
    op.drop_table("draft_snapshots")
