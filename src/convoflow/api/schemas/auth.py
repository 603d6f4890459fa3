"""Sign-in, sign-out and first-run setup as the web app sends and reads them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.access.callers import Caller
from convoflow.services.access.passwords import MAX_PASSWORD_LENGTH

#: Longer input cannot be a user name or a token; refused as invalid rather than checked.
NAME_MAX_LENGTH = 200
TOKEN_MAX_LENGTH = 200


class LoginIn(BaseModel):
    """A user name and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=NAME_MAX_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class AuthMe(BaseModel):
    """The signed-in user (or the API key's)."""

    id: str
    name: str
    is_admin: bool
    csrf_token: str | None = Field(
        description="Send it as `X-CSRF-Token` with every change made by cookie; "
        "null when calling with an API key."
    )

    @classmethod
    def of(cls, caller: Caller) -> AuthMe:
        """Build from the caller."""
        return cls(
            id=caller.id,
            name=caller.username,
            is_admin=caller.is_admin,
            csrf_token=caller.csrf_token,
        )


class SignedInOut(BaseModel):
    """A new sign-in; the session itself travels in the `convoflow_session` cookie."""

    user: AuthMe
    csrf_token: str = Field(description="Send it as `X-CSRF-Token` with every change.")

    @classmethod
    def of(cls, caller: Caller) -> SignedInOut:
        """Build from the signed-in caller."""
        me = AuthMe.of(caller)
        assert me.csrf_token is not None  # every sign-in has one
        return cls(user=me, csrf_token=me.csrf_token)


class SetupStatus(BaseModel):
    """Whether the first-run setup is still open (the admin has no password yet)."""

    needed: bool


class SetupIn(BaseModel):
    """The token of the setup link and the admin's new password."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=TOKEN_MAX_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
