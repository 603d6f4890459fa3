"""User types, permissions and contacts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from convoflow.api.schemas.templates import Description
from convoflow.services.templates.permissions import PermissionView
from convoflow.store.models import Contact, UserType


class UserTypeIn(BaseModel):
    """A kind of customer, e.g. `verified_users`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: Description = ""


class UserTypeUpdate(BaseModel):
    """Rename or describe a user type."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: Description | None = None


class UserTypeOut(BaseModel):
    """A user type."""

    id: str
    name: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, row: UserType) -> UserTypeOut:
        """Build from a stored user type."""
        return cls.model_validate(row, from_attributes=True)


class PermissionIn(BaseModel):
    """Permit customers of a user type to start a template (every version of it)."""

    model_config = ConfigDict(extra="forbid")

    user_type_id: str = Field(min_length=1, max_length=64)
    workflow_template_id: str = Field(min_length=1, max_length=64)


class PermissionOut(BaseModel):
    """A permission, with the names it is read by."""

    id: str
    user_type_id: str
    user_type_name: str
    workflow_template_id: str
    template_family_id: str
    template_name: str
    created_at: datetime

    @classmethod
    def of(cls, view: PermissionView) -> PermissionOut:
        """Build from a permission and its names."""
        row = view.permission
        return cls(
            id=row.id,
            user_type_id=row.user_type_id,
            user_type_name=view.user_type_name,
            workflow_template_id=row.workflow_template_id,
            template_family_id=view.family_id,
            template_name=view.template_name,
            created_at=row.created_at,
        )


class ContactUpdate(BaseModel):
    """Set a customer's user type (null: none) and, optionally, their name."""

    model_config = ConfigDict(extra="forbid")

    user_type_id: str | None = Field(max_length=64)
    name: str | None = Field(default=None, max_length=200)


class ContactOut(BaseModel):
    """A WhatsApp customer."""

    id: str
    customer_key: str
    wa_id: str | None
    bsuid: str | None
    name: str
    user_type_id: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    last_inbound_at: datetime | None
    opted_out: bool

    @classmethod
    def of(cls, row: Contact) -> ContactOut:
        """Build from a stored contact."""
        return cls.model_validate(row, from_attributes=True)
