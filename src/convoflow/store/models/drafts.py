"""The builder's working copies: template drafts and simulator sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import JsonDocument


class TemplateDraft(Base):
    """The unpublished working copy of a template: one per template family.

    ``document`` is kept exactly as the builder saved it (the body ``PUT
    /api/workflow-templates/{id}`` takes), ``problems`` is what validating it found then
    (a draft with problems is kept, so no work is lost). Customers never run a draft:
    publishing it writes a new version and removes the draft.
    """

    __tablename__ = "template_drafts"

    family_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), primary_key=True
    )
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    problems: Mapped[list[Any]] = mapped_column(JsonDocument, nullable=False, default=list)
    based_on_version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class DraftSnapshot(Base):
    """A ``workflow_templates`` row that is a snapshot of a family's draft, for the simulator.

    The snapshot is a template of its own (a family of one version that is never latest
    and never active), so a simulated run of a draft goes through the same message path as
    any other run. Purging the family removes its snapshots.
    """

    __tablename__ = "draft_snapshots"

    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), primary_key=True
    )
    family_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = created_at_column()


class SimulatorSession(Base):
    """A test customer talking to a template from the builder, never through WhatsApp.

    The customer's key is ``sim:<id>`` (see :mod:`convoflow.store.local_channels`);
    ``template_id`` is the version it runs: a published one, or a :class:`DraftSnapshot`.
    """

    __tablename__ = "simulator_sessions"

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    family_id: Mapped[str] = mapped_column(String(26), nullable=False)
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False, index=True
    )
    use_draft: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    user_type_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_types.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
