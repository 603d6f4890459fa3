"""Every inbound and outbound WhatsApp message; outbound rows are the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, updated_at_column
from convoflow.store.types import JsonDocument, UTCDateTime

INBOUND_STATUSES = ("received", "processed", "failed", "ignored")
OUTBOUND_STATUSES = ("queued", "sent", "delivered", "read", "failed")
#: Outbound statuses only move forward along this order (`failed` is terminal too).
OUTBOUND_STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


class WhatsAppMessage(Base):
    """One message in either direction.

    ``id`` is a database sequence (not a ULID): the outbox needs a strict order in which
    the engine produced messages, across processes.
    """

    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        Index("ix_whatsapp_messages_outbox", "direction", "status", "next_attempt_at"),
        Index("ix_whatsapp_messages_owner_id_customer", "owner_id", "customer"),
        # The messaging limit's count (services/campaigns/limits.py) reads only these rows.
        Index(
            "ix_whatsapp_messages_outside_window",
            "owner_id",
            "sent_at",
            postgresql_where=text("outside_window"),
            sqlite_where=text("outside_window"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    phone_number_id: Mapped[str] = mapped_column(String(64), nullable=False)
    customer_key: Mapped[str] = mapped_column("customer", String(160), nullable=False)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)  # "in" | "out"
    wamid: Mapped[str | None] = mapped_column(String(256), unique=True)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_text: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[str | None] = mapped_column(String(26))
    step_id: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[str | None] = mapped_column(String(26))
    # The person who wrote an outbound message from the inbox (None: the bot).
    agent_id: Mapped[str | None] = mapped_column(String(26))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Claimed in (priority, id) order: conversation replies (0) before campaign rows (1).
    priority: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, default=0, server_default="0"
    )
    #: The campaign recipient an outbound campaign row was queued for.
    campaign_recipient_id: Mapped[str | None] = mapped_column(String(26))
    #: A template that went out while the customer's service window was closed: it opened a
    #: business-initiated conversation and counts against the messaging limit.
    outside_window: Mapped[bool | None] = mapped_column(Boolean)
    message_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
