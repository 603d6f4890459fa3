"""Platform users (template owners), their API keys and business phone numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import UTCDateTime


class User(Base):
    """A platform user: owns templates, numbers and customers; every API call acts as one.

    ``password_hash`` (argon2) is set once the user may sign in to the web app; a user
    without one works with API keys only. ``is_admin`` may create users and set anyone's
    password; it sees no other user's private objects.
    """

    __tablename__ = "users"

    id: Mapped[str] = ulid_pk()
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_admin: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
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
    """A WhatsApp business number of an owner; webhooks are routed on ``phone_number_id``.

    The number's Graph API token is kept in one of two ways, never both: sealed with the
    server's token key (``access_token_encrypted``), or as the name of an environment
    variable holding it (``access_token_env``). With neither, the server's own
    ``CONVOFLOW_WHATSAPP_ACCESS_TOKEN`` serves the server's own number.
    """

    __tablename__ = "phone_numbers"
    __table_args__ = (
        CheckConstraint(
            "access_token_env IS NULL OR access_token_encrypted IS NULL", name="one_access_token"
        ),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    waba_id: Mapped[str | None] = mapped_column(String(64))
    display_phone_number: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(32))
    access_token_env: Mapped[str | None] = mapped_column(String(255))
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
