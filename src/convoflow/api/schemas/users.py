"""Platform users as the Settings page lists and creates them, and password changes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.access.passwords import MAX_PASSWORD_LENGTH
from convoflow.store.models import User


class UserOut(BaseModel):
    """A platform user."""

    id: str
    name: str
    is_admin: bool
    is_active: bool
    has_password: bool = Field(description="False for a user who works with API keys only.")
    created_at: datetime

    @classmethod
    def of(cls, row: User) -> UserOut:
        """Build from a stored user."""
        return cls(
            id=row.id,
            name=row.username,
            is_admin=row.is_admin,
            is_active=row.is_active,
            has_password=row.password_hash is not None,
            created_at=row.created_at,
        )


class UserIn(BaseModel):
    """A new user who signs in with a password."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description="1-64 letters, digits, '.', '_' or '-'.")
    password: str = Field(max_length=MAX_PASSWORD_LENGTH, description="At least 8 characters.")
    is_admin: bool = False


class PasswordChange(BaseModel):
    """A new password; changing your own needs the current one."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=MAX_PASSWORD_LENGTH, description="At least 8 characters.")
    current_password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD_LENGTH,
        description="Your current password (for your own, when you have one).",
    )
