"""Conversations handed to a person: one row per handoff, kept as history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk
from convoflow.store.types import UTCDateTime


class Handoff(Base):
    """A customer's conversation handed to a person, from ``started_at`` to ``released_at``.

    At most one handoff per customer is open (``released_at`` NULL, a partial unique
    index). ``agent_id`` is the user who last answered or released it; ``released_by``
    says how it ended (``agent``, ``timeout``, ``reset``, ``ended``).
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index(
            "uq_handoffs_open",
            "owner_id",
            "customer_key",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
            sqlite_where=text("released_at IS NULL"),
        ),
        Index("ix_handoffs_owner_id_started_at", "owner_id", "started_at"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    customer_key: Mapped[str] = mapped_column(String(160), nullable=False)
    instance_id: Mapped[str | None] = mapped_column(String(26))
    template_id: Mapped[str | None] = mapped_column(String(26))
    step_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    started_at: Mapped[datetime] = created_at_column()
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
