"""Model use: llm_calls, llm_prices, llm_tools and knowledge bases (documents, chunks).

Costs are stored unrounded in ``llm_calls``; ``workflow_templates.total_cost`` keeps its
column (four decimals) as a cached total, and the statistics sum the rows.

Revision ID: 0006_llm
Revises: 0006_auth
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_llm"
down_revision: str | None = "0006_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = sa.DateTime(timezone=True)


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["users.id"], name=op.f(f"fk_{table}_owner_id_users")
    )


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=True),
        sa.Column("family_id", sa.String(length=26), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("instance_id", sa.String(length=26), nullable=True),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("priced", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        _owner("llm_calls"),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["workflow_templates.id"],
            name=op.f("fk_llm_calls_template_id_workflow_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
    )
    op.create_index(
        "ix_llm_calls_template_id_created_at", "llm_calls", ["template_id", "created_at"]
    )
    op.create_index("ix_llm_calls_family_id_created_at", "llm_calls", ["family_id", "created_at"])
    op.create_index("ix_llm_calls_instance_id", "llm_calls", ["instance_id"])
    op.create_table(
        "llm_prices",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("input_per_million", sa.Float(), nullable=False),
        sa.Column("output_per_million", sa.Float(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _owner("llm_prices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_prices")),
        sa.UniqueConstraint("owner_id", "model", name=op.f("uq_llm_prices_owner_id_model")),
    )
    op.create_table(
        "llm_tools",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _owner("llm_tools"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_tools")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_llm_tools_owner_id_name")),
    )
    op.create_table(
        "knowledge_bases",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _owner("knowledge_bases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_bases")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_knowledge_bases_owner_id_name")),
    )
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("knowledge_base_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["knowledge_base_id"],
            ["knowledge_bases.id"],
            name=op.f("fk_knowledge_documents_knowledge_base_id_knowledge_bases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
        sa.UniqueConstraint(
            "knowledge_base_id",
            "title",
            name=op.f("uq_knowledge_documents_knowledge_base_id_title"),
        ),
    )
    op.create_index(
        "ix_knowledge_documents_knowledge_base_id", "knowledge_documents", ["knowledge_base_id"]
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("knowledge_base_id", sa.String(length=26), nullable=False),
        sa.Column("document_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["knowledge_base_id"],
            ["knowledge_bases.id"],
            name=op.f("fk_knowledge_chunks_knowledge_base_id_knowledge_bases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["knowledge_documents.id"],
            name=op.f("fk_knowledge_chunks_document_id_knowledge_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_chunks")),
    )
    op.create_index(
        "ix_knowledge_chunks_knowledge_base_id", "knowledge_chunks", ["knowledge_base_id"]
    )
    op.create_index("ix_knowledge_chunks_document_id", "knowledge_chunks", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_chunks_document_id", table_name="knowledge_chunks")
    op.drop_index("ix_knowledge_chunks_knowledge_base_id", table_name="knowledge_chunks")
    op.drop_table("knowledge_chunks")
    op.drop_index("ix_knowledge_documents_knowledge_base_id", table_name="knowledge_documents")
    op.drop_table("knowledge_documents")
    op.drop_table("knowledge_bases")
    op.drop_table("llm_tools")
    op.drop_table("llm_prices")
    op.drop_index("ix_llm_calls_instance_id", table_name="llm_calls")
    op.drop_index("ix_llm_calls_family_id_created_at", table_name="llm_calls")
    op.drop_index("ix_llm_calls_template_id_created_at", table_name="llm_calls")
    op.drop_table("llm_calls")
