"""Template specification requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from convoflow.api.schemas.templates import Description, Tag, WorkflowType
from convoflow.services.templates.limits import MAX_TAGS
from convoflow.store.models import TemplateSpec


class SpecIn(BaseModel):
    """A light specification from which templates are created."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: Description = ""
    workflow_type: WorkflowType = "plain"
    default_params: dict[str, Any] = Field(default_factory=dict)
    required_tools: list[str] = Field(default_factory=list)
    required_retrievers: list[str] = Field(default_factory=list)
    base_template_name: str | None = Field(
        default=None,
        max_length=200,
        description="Your template of this name, else a built-in or public one.",
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    extra_metadata: dict[str, Any] = Field(default_factory=dict)


class SpecUpdate(BaseModel):
    """Changes to a spec; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: Description | None = None
    workflow_type: WorkflowType | None = None
    default_params: dict[str, Any] | None = None
    required_tools: list[str] | None = None
    required_retrievers: list[str] | None = None
    base_template_name: str | None = Field(default=None, max_length=200)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    extra_metadata: dict[str, Any] | None = None


class SpecOut(BaseModel):
    """A template specification."""

    id: str
    owner_id: str
    name: str
    description: str
    workflow_type: str
    default_params: dict[str, Any]
    required_tools: list[str]
    required_retrievers: list[str]
    base_template_name: str | None
    usage_count: int
    tags: list[str]
    extra_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: TemplateSpec) -> SpecOut:
        """Build from a stored spec."""
        return cls.model_validate(row, from_attributes=True)
