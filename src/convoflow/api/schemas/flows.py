"""Flow Runner flows, in the Flow Runner's own field names."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from convoflow.services.templates.flows import flow_recipients, flow_steps
from convoflow.store.models import WorkflowTemplate

FlowStatus = Literal["ACTIVE", "INACTIVE"]
_TRIGGER = "Trigger keywords: a JSON array in a string (as the Flow Runner sends it) or a list."


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class FlowIn(BaseModel):
    """A flow as a Flow Runner exports it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    trigger: list[str] | str | None = Field(default=None, description=_TRIGGER)
    automationJson: list[Any] | str = Field(description="The steps array (or it as JSON text).")
    status: FlowStatus = "ACTIVE"
    recipientArray: list[Any] | None = Field(
        default=None, description="Recipients (numbers or objects with a phone field)."
    )

    _status_upper = field_validator("status", mode="before")(_upper)


class FlowUpdate(BaseModel):
    """Changes to a flow; fields left out keep their value."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: list[str] | str | None = Field(default=None, description=_TRIGGER)
    automationJson: list[Any] | str | None = None
    status: FlowStatus | None = None
    recipientArray: list[Any] | None = None

    _status_upper = field_validator("status", mode="before")(_upper)


class FlowRef(BaseModel):
    """Which flow."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)


class FlowOut(BaseModel):
    """A flow in the Flow Runner format; `id` is stable across versions."""

    id: str
    name: str
    trigger: str = Field(description="The trigger keywords as a JSON array in a string.")
    automationJson: list[Any]
    status: FlowStatus
    recipientArray: list[Any] = Field(default_factory=list)
    version: int
    templateId: str = Field(description="The id of this (latest) template version.")
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, row: WorkflowTemplate) -> FlowOut:
        """Build from the latest version of a template."""
        return cls(
            id=row.family_id,
            name=row.template_name,
            # Unescaped, as a JavaScript Flow Runner writes it: `["café"]` comes back as sent.
            trigger=json.dumps(row.trigger_keywords, ensure_ascii=False),
            automationJson=flow_steps(row),
            status="ACTIVE" if row.is_active else "INACTIVE",
            recipientArray=flow_recipients(row),
            version=row.version,
            templateId=row.id,
            createdAt=row.created_at,
            updatedAt=row.updated_at,
        )


class FlowDeleted(BaseModel):
    """What DELETE did: `purged` (unused) or `deactivated` (conversations still run it)."""

    id: str
    action: str
