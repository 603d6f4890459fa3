"""Workflow instance requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convoflow.store.models import WorkflowEffect, WorkflowInstance

InstanceStatus = Literal["active", "waiting", "completed", "failed", "cancelled"]


class InstanceStart(BaseModel):
    """Start an instance of a template (its latest version) for a customer."""

    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(min_length=1, max_length=64)
    conversation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=160,
        description="The WhatsApp conversation (customer wa_id) the instance belongs to.",
    )
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=160,
        description="The customer (contact id, wa_id or customer key); their user type must "
        "be permitted to start the template.",
    )
    state_data: dict[str, Any] = Field(
        default_factory=dict, description="Initial data, typed by the state_schema."
    )
    start_conversation: bool = Field(
        default=False,
        description="Also start the template on WhatsApp for `conversation_id`.",
    )


class InstanceUpdate(BaseModel):
    """Merge data and/or change the status (only legal transitions)."""

    model_config = ConfigDict(extra="forbid")

    state_data: dict[str, Any] | None = None
    status: InstanceStatus | None = None


class DependencyResolution(BaseModel):
    """An outside system's answer for a dependency the instance waits for."""

    model_config = ConfigDict(extra="forbid")

    ok: bool = True
    data: Any = Field(default=None, description="Stored under the dependency's `save_as`.")
    error: str = Field(default="", max_length=2000)


class InstanceOut(BaseModel):
    """A workflow instance: one run of a template for one customer or API caller."""

    id: str
    owner_id: str
    template_id: str
    conversation_id: str | None
    user_id: str | None
    contact_id: str | None
    status: str
    current_step: str | None
    state_data: dict[str, Any]
    pending_dependencies: list[Any]
    waiting_for: str | None
    visited_steps: list[Any]
    started_at: datetime
    completed_at: datetime | None
    last_interaction: datetime
    end_action_result: dict[str, Any] | None
    error: str | None
    updated_at: datetime

    @classmethod
    def of(cls, row: WorkflowInstance) -> InstanceOut:
        """Build from a stored instance."""
        return cls.model_validate(row, from_attributes=True)


class EffectOut(BaseModel):
    """A background job of an instance: a dependency call or the end action."""

    id: str
    effect_id: str
    kind: str
    name: str | None = Field(description="The dependency's name, for `dependency` jobs.")
    status: str
    attempts: int
    next_attempt_at: datetime
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WorkflowEffect) -> EffectOut:
        """Build from a stored effect (its spec, which may hold secrets, is left out)."""
        name = row.spec.get("name") if isinstance(row.spec, dict) else None
        return cls(
            id=row.id,
            effect_id=row.effect_id,
            kind=row.kind,
            name=str(name) if name is not None else None,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            result=row.result,
            error=row.error,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
