"""Prices, model use, HTTP tools and knowledge bases."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.ai.admin import REDACTED, StoredDocument, Usage
from convoflow.store.models import KnowledgeBase, KnowledgeDocument, LlmPrice, LlmTool


class PriceIn(BaseModel):
    """What a model costs, per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: float = Field(ge=0, allow_inf_nan=False)
    output_per_million: float = Field(ge=0, allow_inf_nan=False)


class PriceOut(PriceIn):
    """A model's price in your price table."""

    model: str
    updated_at: datetime

    @classmethod
    def of(cls, row: LlmPrice) -> PriceOut:
        """Build from a stored price."""
        return cls(
            model=row.model,
            input_per_million=row.input_per_million,
            output_per_million=row.output_per_million,
            updated_at=row.updated_at,
        )


class UsageOut(BaseModel):
    """What a workflow instance's model calls used."""

    instance_id: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float = Field(description="Unrounded; models without a price cost 0.")
    unpriced_models: list[str]

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        """Build from the computed usage."""
        return cls(
            instance_id=usage.instance_id,
            calls=usage.calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            cost=usage.cost,
            unpriced_models=usage.unpriced_models,
        )


class ToolIn(BaseModel):
    """An HTTP tool the model may call; ``url`` and header values may use
    ``{{argument}}`` placeholders. Header values are write-only (shown as "[redacted]")."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=2000)
    parameters: dict[str, Any] | None = Field(
        default=None, description='A JSON schema with "type": "object".'
    )
    url: str | None = Field(default=None, max_length=2000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    headers: dict[str, str] | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    retries: int | None = Field(default=None, ge=0, le=5)


class ToolOut(BaseModel):
    """A declared HTTP tool."""

    id: str
    name: str
    description: str
    parameters: dict[str, Any]
    url: str
    method: str
    headers: dict[str, str]
    timeout_seconds: float
    retries: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: LlmTool) -> ToolOut:
        """Build from a stored tool, header values redacted."""
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            parameters=row.parameters,
            url=row.url,
            method=row.method,
            headers=dict.fromkeys(row.headers, REDACTED),
            timeout_seconds=row.timeout_seconds,
            retries=row.retries,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class KnowledgeBaseIn(BaseModel):
    """A knowledge base, referred to by ``name`` in templates and steps."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)


class KnowledgeBaseOut(KnowledgeBaseIn):
    """A knowledge base."""

    id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: KnowledgeBase) -> KnowledgeBaseOut:
        """Build from a stored knowledge base."""
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class DocumentIn(BaseModel):
    """A document as JSON: its title, its text and how the text is written."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    content: str = Field(min_length=1, max_length=2_000_000)
    content_type: str = Field(
        default="text/plain", description="text/plain, text/markdown or text/html."
    )


class DocumentOut(BaseModel):
    """A stored document."""

    id: str
    title: str
    content_type: str
    content_hash: str
    characters: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: KnowledgeDocument) -> DocumentOut:
        """Build from a stored document."""
        return cls.model_validate(row, from_attributes=True)


class DocumentStored(DocumentOut):
    """A document after an upload: its chunks, and whether the upload changed anything
    (the same content uploaded again changes nothing)."""

    chunks: int
    changed: bool

    @classmethod
    def stored(cls, result: StoredDocument) -> DocumentStored:
        """Build from an upload's result."""
        base = DocumentOut.of(result.document).model_dump()
        return cls(**base, chunks=result.chunks, changed=result.changed)
