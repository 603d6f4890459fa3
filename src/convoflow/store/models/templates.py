"""Workflow templates (one row per version), template specs and customer-type permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import JsonDocument, TextList, UTCDateTime

TEMPLATE_TYPES = ("button", "list", "text", "flow")
WORKFLOW_TYPES = ("plain", "tools", "rag", "full")
STANDARD_CATEGORIES = (
    "general",
    "customer_support",
    "programming",
    "research",
    "data_analysis",
    "creative",
    "educational",
    "business",
    "custom",
)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class WorkflowTemplate(Base):
    """One version of a workflow template.

    All versions of a template share ``family_id`` (the id of version 1); exactly one of
    them has ``is_latest``. Conversations pin the version they started on.
    """

    __tablename__ = "workflow_templates"
    __table_args__ = (
        CheckConstraint("rating >= 0 AND rating <= 5", name="rating_range"),
        CheckConstraint("success_rate >= 0 AND success_rate <= 1", name="success_rate_range"),
        CheckConstraint(_in_list("workflow_type", WORKFLOW_TYPES), name="workflow_type_valid"),
        CheckConstraint(_in_list("template_type", TEMPLATE_TYPES), name="template_type_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("family_id", "version"),
        # Name unique per owner among latest versions (a partial unique index).
        Index(
            "uq_workflow_templates_owner_name_latest",
            "owner_id",
            "template_name",
            unique=True,
            postgresql_where=text("is_latest"),
            sqlite_where=text("is_latest"),
        ),
        Index("ix_workflow_templates_owner_id", "owner_id"),
        Index("ix_workflow_templates_template_name", "template_name"),
        Index("ix_workflow_templates_template_type", "template_type"),
        Index("ix_workflow_templates_category", "category"),
        Index("ix_workflow_templates_base_template_id", "base_template_id"),
        Index("ix_workflow_templates_is_builtin", "is_builtin"),
        Index("ix_workflow_templates_is_latest", "is_latest"),
        Index("ix_workflow_templates_is_public", "is_public"),
        Index("ix_workflow_templates_config_hash", "config_hash"),
        Index("ix_workflow_templates_family_id", "family_id"),
        Index(
            "ix_workflow_templates_trigger_keywords",
            "trigger_keywords",
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    # identity
    id: Mapped[str] = ulid_pk()
    family_id: Mapped[str] = mapped_column(String(26), nullable=False)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    template_name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    is_latest: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    changelog: Mapped[str | None] = mapped_column(Text)
    base_template_id: Mapped[str | None] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="SET NULL")
    )
    is_builtin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # kind
    template_type: Mapped[str] = mapped_column(String(16), nullable=False, default="flow")
    workflow_type: Mapped[str] = mapped_column(String(16), nullable=False, default="plain")
    category: Mapped[str] = mapped_column(String(64), nullable=False, default="custom")
    # behaviour
    trigger_keywords: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    menu_structure: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    guidelines: Mapped[str | None] = mapped_column(Text)
    state_schema: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    workflow_dependencies: Mapped[list[Any]] = mapped_column(
        JsonDocument, nullable=False, default=list
    )
    end_action_type: Mapped[str | None] = mapped_column(String(32))
    end_action_target: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    default_params: Mapped[dict[str, Any]] = mapped_column(
        JsonDocument, nullable=False, default=dict
    )
    required_tools: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    required_retrievers: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    session_ttl_seconds: Mapped[int | None] = mapped_column(Integer)
    # statistics
    usage_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    success_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    success_rate: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    avg_response_time_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    rating_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_tokens_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_cost: Mapped[float] = mapped_column(Numeric(12, 4, asdecimal=False), default=0.0)
    avg_tokens_per_use: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    # other
    tags: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    extra_metadata: Mapped[dict[str, Any]] = mapped_column(
        JsonDocument, nullable=False, default=dict
    )
    config_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    estimated_complexity: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class TemplateSpec(Base):
    """A light specification from which templates are created."""

    __tablename__ = "template_specs"
    __table_args__ = (
        UniqueConstraint("owner_id", "name"),
        CheckConstraint(_in_list("workflow_type", WORKFLOW_TYPES), name="workflow_type_valid"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    workflow_type: Mapped[str] = mapped_column(String(16), nullable=False, default="plain")
    default_params: Mapped[dict[str, Any]] = mapped_column(
        JsonDocument, nullable=False, default=dict
    )
    required_tools: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    required_retrievers: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    base_template_name: Mapped[str | None] = mapped_column(String(200))
    usage_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tags: Mapped[list[str]] = mapped_column(TextList, nullable=False, default=list)
    extra_metadata: Mapped[dict[str, Any]] = mapped_column(
        JsonDocument, nullable=False, default=dict
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class UserType(Base):
    """A kind of customer (e.g. ``verified_users``) used to gate templates."""

    __tablename__ = "user_types"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = created_at_column()


class TemplatePermission(Base):
    """Customers of ``user_type_id`` may start the template (every version of its family)."""

    __tablename__ = "template_permissions"
    __table_args__ = (UniqueConstraint("user_type_id", "workflow_template_id"),)

    id: Mapped[str] = ulid_pk()
    user_type_id: Mapped[str] = mapped_column(
        ForeignKey("user_types.id", ondelete="CASCADE"), nullable=False, index=True
    )
    workflow_template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = created_at_column()
