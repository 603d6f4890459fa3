"""Business phone number requests and responses; a token goes in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.access.numbers.registry import PhoneNumberView, TokenKind

#: Meta's messaging-limit tiers (unique customers reached outside a service window per
#: 24 h): TIER_50 and TIER_1K are older names Meta may still report.
MessagingLimitTier = Literal[
    "TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"
]

GraphId = Annotated[str, Field(pattern=r"^[0-9]{1,64}$")]
DisplayNumber = Annotated[
    str,
    Field(
        max_length=32,
        pattern=r"^(\+?[0-9][0-9 ().-]*)?$",
        description="The number as people dial it, e.g. `+1 555-078-3881`.",
    ),
]
# Visible ASCII only: the token becomes an HTTP header.
AccessToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        pattern=r"^[\x21-\x7e]+$",
        description="The number's Graph API token; stored encrypted, never returned.",
    ),
]
EnvironmentName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$",
        description=(
            "The name of an environment variable holding the token, read by the process "
            "that sends (names starting with `CONVOFLOW_` are refused)."
        ),
    ),
]


class PhoneNumberIn(BaseModel):
    """A business number to register, with its token given one of two ways."""

    model_config = ConfigDict(extra="forbid")

    phone_number_id: GraphId = Field(description="Meta's Phone number ID (not the number).")
    waba_id: GraphId | None = Field(
        default=None, description="The WhatsApp Business Account id the number belongs to."
    )
    display_phone_number: DisplayNumber = ""
    messaging_limit_tier: MessagingLimitTier | None = None
    access_token: AccessToken | None = Field(default=None, repr=False)
    access_token_env: EnvironmentName | None = None


class PhoneNumberUpdate(BaseModel):
    """Changes to a number; fields left out keep their value, `null` clears one.

    A new token of either kind replaces the stored one; `null` for a token field removes
    the number's token.
    """

    model_config = ConfigDict(extra="forbid")

    waba_id: GraphId | None = None
    display_phone_number: DisplayNumber = ""
    messaging_limit_tier: MessagingLimitTier | None = None
    access_token: AccessToken | None = Field(default=None, repr=False)
    access_token_env: EnvironmentName | None = None


class PhoneNumberOut(BaseModel):
    """A registered business number (its token is never shown)."""

    id: str
    owner_id: str
    phone_number_id: str
    waba_id: str | None
    display_phone_number: str
    messaging_limit_tier: str | None
    has_access_token: bool
    access_token_kind: TokenKind | None = Field(
        description=(
            "`encrypted` (stored sealed), `env` (an environment variable), `settings` "
            "(the server's CONVOFLOW_WHATSAPP_ACCESS_TOKEN, for its own number) or null."
        )
    )
    access_token_env: str | None = Field(description="The variable's name, for kind `env`.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PhoneNumberView) -> PhoneNumberOut:
        """Build from a registered number's view."""
        return cls(
            id=view.id,
            owner_id=view.owner_id,
            phone_number_id=view.phone_number_id,
            waba_id=view.waba_id,
            display_phone_number=view.display_phone_number,
            messaging_limit_tier=view.messaging_limit_tier,
            has_access_token=view.has_access_token,
            access_token_kind=view.access_token_kind,
            access_token_env=view.access_token_env,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )
