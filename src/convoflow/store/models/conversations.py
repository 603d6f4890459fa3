"""Customers, their live conversation state, workflow instances and effect jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import JsonDocument, UTCDateTime

INSTANCE_STATUSES = ("active", "waiting", "completed", "failed", "cancelled")


class Contact(Base):
    """A WhatsApp customer of an owner, created on their first message.

    ``wa_id`` (phone digits) or ``bsuid`` (business-scoped user id) may be missing, never
    both; ``customer_key`` is the one used to key conversations (wa_id when known).
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("owner_id", "customer_key"),
        Index("ix_contacts_owner_id_wa_id", "owner_id", "wa_id"),
        Index("ix_contacts_owner_id_bsuid", "owner_id", "bsuid"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    customer_key: Mapped[str] = mapped_column(String(160), nullable=False)
    wa_id: Mapped[str | None] = mapped_column(String(32))
    bsuid: Mapped[str | None] = mapped_column(String(160))
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    user_type_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_types.id", ondelete="SET NULL"), index=True
    )
    first_seen_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = created_at_column()
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opted_out: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: When and how the contact opted out of campaigns (``keyword:STOP``, ``api``, ``131050``).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opt_out_source: Mapped[str | None] = mapped_column(String(64))
    #: Labels an owner gives the contact, for campaign audiences.
    tags: Mapped[list[str]] = mapped_column(JsonDocument, nullable=False, default=list)


class ConversationStateRow(Base):
    """Where a customer is now: one live row per (owner, customer), removed when expired.

    ``timer_id``/``timer_due_at`` copy the waiting step's timer out of ``context`` so that
    due timers are found through an index.
    """

    __tablename__ = "conversation_state"
    __table_args__ = (
        UniqueConstraint("owner_id", "phone_number"),
        Index("ix_conversation_state_phone_number", "phone_number"),
        Index("ix_conversation_state_conversation_flow", "conversation_flow"),
        Index("ix_conversation_state_expires_at", "expires_at"),
        Index("ix_conversation_state_timer_due_at", "timer_due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    phone_number: Mapped[str] = mapped_column(String(160), nullable=False)
    conversation_flow: Mapped[str] = mapped_column(String(200), nullable=False)
    current_step: Mapped[str] = mapped_column(String(200), nullable=False)
    context: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False
    )
    instance_id: Mapped[str | None] = mapped_column(String(26))
    last_interaction: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    timer_id: Mapped[str | None] = mapped_column(String(200))
    timer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class WorkflowInstance(Base):
    """One run of a template for one customer or API caller; kept as history."""

    __tablename__ = "workflow_instances"
    __table_args__ = (
        Index("ix_workflow_instances_template_id", "template_id"),
        Index("ix_workflow_instances_status", "status"),
        Index("ix_workflow_instances_owner_id_user_id", "owner_id", "user_id"),
        Index("ix_workflow_instances_conversation_id", "conversation_id"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str | None] = mapped_column(String(160))
    user_id: Mapped[str | None] = mapped_column(String(160))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    current_step: Mapped[str | None] = mapped_column(String(200))
    state_data: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    pending_dependencies: Mapped[list[Any]] = mapped_column(
        JsonDocument, nullable=False, default=list
    )
    waiting_for: Mapped[str | None] = mapped_column(String(200))
    visited_steps: Mapped[list[Any]] = mapped_column(JsonDocument, nullable=False, default=list)
    started_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_interaction: Mapped[datetime] = created_at_column()
    end_action_result: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = updated_at_column()


class WorkflowEffect(Base):
    """A durable background job produced by the engine (HTTP dependency, end action).

    Stored in the same transaction as the state that produced it, so a crash never loses
    it; the job runner claims due rows, runs them and feeds the result back.
    """

    __tablename__ = "workflow_effects"
    __table_args__ = (
        UniqueConstraint("instance_id", "effect_id"),
        Index("ix_workflow_effects_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_instances.id", ondelete="CASCADE"), nullable=False
    )
    effect_id: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = created_at_column()
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
