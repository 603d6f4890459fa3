"""Workflow template requests and responses (DESIGN §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.templates.documents import redact_secrets
from convoflow.services.templates.limits import (
    CHANGELOG_MAX_CHARS,
    DESCRIPTION_MAX_CHARS,
    GUIDELINES_MAX_CHARS,
    MAX_TAGS,
    TAG_MAX_CHARS,
)
from convoflow.store.models import WorkflowTemplate

TemplateType = Literal["button", "list", "text", "flow"]
WorkflowType = Literal["plain", "tools", "rag", "full"]
SortField = Literal["usage_count", "rating", "created_at", "name"]
SortOrder = Literal["asc", "desc"]
Tag = Annotated[str, Field(max_length=TAG_MAX_CHARS)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX_CHARS)]


class TemplateIn(BaseModel):
    """A template to create or a new version to write.

    ``menu_structure`` holds the step graph in any accepted format (native, Flow Runner
    or a single WhatsApp interactive message). Alternatively the whole body may be a
    Flow Runner flow (``name``, ``status``, ``triggers``, ``steps``). On PUT every field
    may be left out: it keeps its current value.
    """

    model_config = ConfigDict(extra="allow")

    template_name: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Same as `template_name`."
    )
    description: Description | None = None
    changelog: str | None = Field(
        default=None, max_length=CHANGELOG_MAX_CHARS, description="What changed in this version."
    )
    template_type: TemplateType | None = None
    workflow_type: WorkflowType | None = None
    category: str | None = Field(default=None, max_length=64)
    trigger_keywords: list[str] | None = None
    menu_structure: dict[str, Any] | None = None
    guidelines: str | None = Field(default=None, max_length=GUIDELINES_MAX_CHARS)
    state_schema: dict[str, Any] | None = None
    workflow_dependencies: list[Any] | None = None
    end_action_type: str | None = Field(default=None, max_length=32)
    end_action_target: dict[str, Any] | None = None
    default_params: dict[str, Any] | None = None
    required_tools: list[str] | None = None
    required_retrievers: list[str] | None = None
    session_ttl_seconds: int | None = Field(default=None, ge=60, le=30 * 86_400)
    base_template_id: str | None = Field(default=None, max_length=26)
    is_public: bool | None = None
    is_active: bool | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    extra_metadata: dict[str, Any] | None = None
    estimated_complexity: str | None = Field(default=None, max_length=16)
    triggers: list[str] | None = Field(default=None, description="Flow Runner body: triggers.")
    status: str | None = Field(default=None, description="Flow Runner body: ACTIVE or INACTIVE.")
    steps: list[Any] | None = Field(default=None, description="Flow Runner or native body: steps.")
    start: str | None = Field(default=None, description="Native body: the first step.")

    def document(self) -> dict[str, Any]:
        """The fields the client sent, as the template document services read."""
        return self.model_dump(exclude_unset=True)


class TemplateSummary(BaseModel):
    """A template in a list: identity, kind and statistics, without the graph."""

    id: str
    family_id: str
    owner_id: str
    template_name: str
    description: str
    version: int
    is_latest: bool
    is_builtin: bool
    is_public: bool
    is_active: bool
    template_type: str
    workflow_type: str
    category: str
    trigger_keywords: list[str]
    tags: list[str]
    base_template_id: str | None
    usage_count: int
    success_rate: float
    avg_response_time_ms: float
    rating: float
    rating_count: int
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WorkflowTemplate) -> TemplateSummary:
        """Build from a stored version."""
        return cls.model_validate(row, from_attributes=True)


class TemplateOut(TemplateSummary):
    """A template version with everything it holds."""

    changelog: str | None
    menu_structure: dict[str, Any]
    guidelines: str | None
    state_schema: dict[str, Any]
    workflow_dependencies: list[Any]
    end_action_type: str | None
    end_action_target: dict[str, Any] | None
    default_params: dict[str, Any]
    required_tools: list[str]
    required_retrievers: list[str]
    session_ttl_seconds: int | None
    success_count: int
    total_tokens_used: int
    total_cost: float | None
    avg_tokens_per_use: float
    extra_metadata: dict[str, Any]
    config_hash: str
    estimated_complexity: str | None

    @classmethod
    def of(cls, row: WorkflowTemplate) -> TemplateOut:
        """Build from a stored version."""
        return cls.model_validate(row, from_attributes=True)

    @classmethod
    def for_viewer(cls, row: WorkflowTemplate, viewer_id: str) -> TemplateOut:
        """Build for a reader; someone else's template shows no header values (secrets)."""
        shown = cls.of(row)
        if row.owner_id == viewer_id:
            return shown
        redacted = redact_secrets(
            {
                "end_action_target": shown.end_action_target,
                "workflow_dependencies": shown.workflow_dependencies,
            }
        )
        return shown.model_copy(update=redacted)


class TemplateVersion(BaseModel):
    """One version of a template."""

    id: str
    version: int
    is_latest: bool
    is_active: bool
    changelog: str | None
    config_hash: str
    created_at: datetime
    author: str = Field(description="Who wrote the version (the template's owner).")

    @classmethod
    def of(cls, row: WorkflowTemplate, *, author: str) -> TemplateVersion:
        """Build from a stored version written by ``author``."""
        return cls(
            id=row.id,
            version=row.version,
            is_latest=row.is_latest,
            is_active=row.is_active,
            changelog=row.changelog,
            config_hash=row.config_hash,
            created_at=row.created_at,
            author=author,
        )


class ForkIn(BaseModel):
    """How to name a fork (default: the source's name, made unique among yours)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)


class RatingIn(BaseModel):
    """A rating from 1 to 5."""

    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)


class RatingOut(BaseModel):
    """The template's average rating after yours (one rating per user and template)."""

    template_id: str = Field(description="The template's latest version.")
    rating: float = Field(description="The average of every user's rating.")
    rating_count: int = Field(description="How many ratings: one per user.")
    your_rating: int
