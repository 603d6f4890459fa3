"""Platform users (template owners), their API keys and business phone numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk
from convoflow.store.types import UTCDateTime


class User(Base):
    """A platform user: owns templates, numbers and customers; every API call acts as one."""

    __tablename__ = "users"

    id: Mapped[str] = ulid_pk()
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    fallback_template_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class ApiKey(Base):
    """A hashed API key; the plain key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = ulid_pk()
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PhoneNumber(Base):
    """A WhatsApp business number of an owner; webhooks are routed on ``phone_number_id``."""

    __tablename__ = "phone_numbers"

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_phone_number: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    access_token_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
