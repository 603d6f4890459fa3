"""Campaigns: approved WhatsApp message templates, campaigns, their recipients and batches.

A campaign's messages are ordinary outbox rows (``whatsapp_messages``, outbound, queued)
carrying ``campaign_recipient_id`` and a lower ``priority`` than conversation replies, so
they go out through the same sender, rate limit and accepted-send guarantees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import JsonDocument, UTCDateTime

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "completed", "cancelled")
RECIPIENT_STATUSES = (
    "pending",
    "queued",
    "deferred",
    "sent",
    "delivered",
    "read",
    "replied",
    "skipped",
    "failed",
    "opted_out",
)
#: Recipient statuses only move to a higher rank; `queued` and `deferred` share one, so a
#: deferred recipient may be queued again (and a queued one deferred). The last three end.
RECIPIENT_STATUS_RANK = {
    "pending": 0,
    "queued": 1,
    "deferred": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "replied": 5,
    "skipped": 9,
    "failed": 9,
    "opted_out": 9,
}
FINAL_RECIPIENT_STATUSES = ("skipped", "failed", "opted_out")
#: Outbox priority: conversation replies (0) are claimed before campaign messages (1).
REPLY_PRIORITY = 0
CAMPAIGN_PRIORITY = 1


class MessageTemplate(Base):
    """One WhatsApp message template of an owner's WABA, as last synced from the Graph API
    (or changed by a template webhook). ``parameters`` holds, per component, the names or
    positions of its ``{{…}}`` placeholders; ``parameter_count`` is their total."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("owner_id", "name", "language"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    waba_id: Mapped[str] = mapped_column(String(64), nullable=False)
    graph_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    language: Mapped[str] = mapped_column(String(20), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    quality_rating: Mapped[str | None] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    components: Mapped[list[Any]] = mapped_column(JsonDocument, nullable=False, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    parameter_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    synced_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class MarketingCampaign(Base):
    """A campaign: which template goes to whom, when, how fast, and where it stands."""

    __tablename__ = "marketing_campaigns"
    __table_args__ = (Index("ix_marketing_campaigns_status", "status"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    phone_number_id: Mapped[str] = mapped_column(String(64), nullable=False)
    template_name: Mapped[str] = mapped_column(String(512), nullable=False)
    template_language: Mapped[str] = mapped_column(String(20), nullable=False)
    #: Parameter mapping: {"body": ["contact.name", "column:city", "text:Hello"], ...}.
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    #: How the audience was chosen (filters, a CSV upload, a flow's recipientArray).
    audience: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_start: Mapped[str | None] = mapped_column(String(5))  # "09:00"
    window_end: Mapped[str | None] = mapped_column(String(5))  # "20:00"
    window_timezone: Mapped[str] = mapped_column(String(16), nullable=False, default="campaign")
    max_mps: Mapped[float] = mapped_column(Float, nullable=False, default=10.0)
    #: The conversation template a reply to the campaign starts (by name).
    reply_template: Mapped[str | None] = mapped_column(String(200))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    #: Until when the messaging limit holds the campaign's next recipients back.
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_batch_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    batches: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CampaignRecipient(Base):
    """One customer of a campaign: their parameters (CSV columns), status and timestamps.

    ``message_id`` is the outbox row sent for them (the latest, when they were deferred and
    queued again); ``counted`` says they count against the messaging limit (reached
    outside an open service window).
    """

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_key"),
        Index("ix_campaign_recipients_campaign_id_status", "campaign_id", "status"),
        Index("ix_campaign_recipients_owner_id_customer_key", "owner_id", "customer_key"),
        Index("ix_campaign_recipients_owner_id_queued_at", "owner_id", "queued_at"),
    )

    id: Mapped[str] = ulid_pk()
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    customer_key: Mapped[str] = mapped_column(String(160), nullable=False)
    contact_id: Mapped[str | None] = mapped_column(String(26))
    columns: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    message_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    wamid: Mapped[str | None] = mapped_column(String(256))
    counted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    defer_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deferred_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_text: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CampaignSendSchedule(Base):
    """One batch of a campaign put in the outbox: when, how many, and how many deferred."""

    __tablename__ = "campaign_send_schedule"
    __table_args__ = (UniqueConstraint("campaign_id", "sequence"),)

    id: Mapped[str] = ulid_pk()
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("marketing_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    queued: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deferred: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite")
    )
    last_message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite")
    )
    created_at: Mapped[datetime] = created_at_column()
