"""Sign-in to the web app: sessions, failed attempts (for throttling), first-run setup tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk
from convoflow.store.types import UTCDateTime

#: Longest client address kept (an IPv6 address with a zone fits).
CLIENT_IP_MAX_LENGTH = 64


class SignInSession(Base):
    """A browser signed in as a user: the cookie carries a random token, stored as its hash.

    ``expires_at`` slides with use (``last_seen_at`` plus the idle limit) but never past
    ``created_at`` plus the maximum age. ``csrf_token`` must accompany every change the
    browser sends with the cookie.
    """

    __tablename__ = "sign_in_sessions"
    __table_args__ = (Index("ix_sign_in_sessions_expires_at", "expires_at"),)

    id: Mapped[str] = ulid_pk()
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SignInFailure(Base):
    """One failed sign-in: counted per user name and per client address within a window."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_username_failed_at", "username", "failed_at"),
        Index("ix_sign_in_failures_client_ip_failed_at", "client_ip", "failed_at"),
    )

    id: Mapped[str] = ulid_pk()
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    client_ip: Mapped[str] = mapped_column(String(CLIENT_IP_MAX_LENGTH), nullable=False)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SetupToken(Base):
    """A one-time first-run token that sets the default owner's password (stored hashed).

    Valid while the owner has no password and the token is unused; ``used_at`` tells a
    used link from a wrong one.
    """

    __tablename__ = "setup_tokens"

    id: Mapped[str] = ulid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
