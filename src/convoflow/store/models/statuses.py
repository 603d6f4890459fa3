"""Delivery statuses that arrived before their outbound message's wamid was recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base
from convoflow.store.types import UTCDateTime

#: Longest wamid a row can hold (the size of ``whatsapp_messages.wamid``).
WAMID_MAX_LENGTH = 256


class PendingStatus(Base):
    """A status webhook for a wamid no outbound row carries yet.

    Meta may send ``sent``/``delivered``/``read``/``failed`` for a message before the
    sender has stored the wamid from Meta's answer; the status waits here and is applied
    when the wamid is recorded. One row per (wamid, status): a re-delivered webhook keeps
    the first. Rows whose wamid never shows up are purged after a few days.
    """

    __tablename__ = "pending_statuses"
    __table_args__ = (Index("ix_pending_statuses_received_at", "received_at"),)

    wamid: Mapped[str] = mapped_column(String(WAMID_MAX_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_text: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
