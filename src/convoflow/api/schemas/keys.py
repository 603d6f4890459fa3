"""API keys as the API shows them: never the key itself, except once when it is created."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from convoflow.store.accounts import LABEL_MAX_LENGTH
from convoflow.store.models import ApiKey


class ApiKeyIn(BaseModel):
    """A new key; the label only helps you recognise it later."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=LABEL_MAX_LENGTH)


class ApiKeyOut(BaseModel):
    """One of your API keys, without the secret."""

    id: str
    label: str
    prefix: str = Field(description="The key's first characters (`cfk_` and 8 more): not secret.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="The last request made with it.")
    revoked_at: datetime | None = Field(description="When it was revoked; null while valid.")
    revoked: bool

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        """Build from a stored key."""
        return cls(
            id=row.id,
            label=row.name,
            prefix=row.key_prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            revoked=row.revoked_at is not None,
        )


class ApiKeyCreated(ApiKeyOut):
    """A new key: ``key`` is the plain key, shown this once and never again."""

    key: str = Field(description="The plain key: store it now, it cannot be shown again.")

    @classmethod
    def issued(cls, row: ApiKey, plain_key: str) -> ApiKeyCreated:
        """Build from the stored key and its plain value."""
        return cls(**ApiKeyOut.of(row).model_dump(), key=plain_key)
