"""Model use: every call (``llm_calls``), prices per owner, admin-declared HTTP tools and
knowledge bases (documents cut into chunks, with their embeddings when a model makes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column
from convoflow.store.types import JsonDocument


class LlmCall(Base):
    """One call to the model provider: who, which model, tokens, cost (unrounded), how long,
    how it ended (``ok``, ``error``, ``timeout``, ``invalid``). ``priced`` is false when the
    owner's price table had no price for the model (the cost is then 0)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_template_id_created_at", "template_id", "created_at"),
        Index("ix_llm_calls_family_id_created_at", "family_id", "created_at"),
        Index("ix_llm_calls_instance_id", "instance_id"),
    )

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    template_id: Mapped[str | None] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="SET NULL")
    )
    family_id: Mapped[str | None] = mapped_column(String(26))
    template_version: Mapped[int | None] = mapped_column(Integer)
    instance_id: Mapped[str | None] = mapped_column(String(26))
    step_id: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    priced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class LlmPrice(Base):
    """What a model costs an owner, per million prompt (input) and completion (output)
    tokens."""

    __tablename__ = "llm_prices"
    __table_args__ = (UniqueConstraint("owner_id", "model"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    input_per_million: Mapped[float] = mapped_column(Float, nullable=False)
    output_per_million: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class LlmTool(Base):
    """An admin-declared HTTP tool the model may call (by ``name``) when a template allows
    it. ``url`` and header values may use ``{{variables}}`` (the tool's arguments); header
    values are never shown back."""

    __tablename__ = "llm_tools"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False, default="POST")
    headers: Mapped[dict[str, Any]] = mapped_column(JsonDocument, nullable=False, default=dict)
    timeout_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=10.0)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class KnowledgeBase(Base):
    """A named set of documents an AI template or step searches (``search_knowledge``)."""

    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = ulid_pk()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class KnowledgeDocument(Base):
    """One uploaded document; ``content_hash`` (sha256 of its text) tells a re-upload of the
    same content apart from a changed one."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("knowledge_base_id", "title"),)

    id: Mapped[str] = ulid_pk()
    knowledge_base_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    characters: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class KnowledgeChunk(Base):
    """A passage of a document, the unit ``search_knowledge`` returns; ``embedding`` is its
    vector (a JSON array of floats) when an embedding model is configured."""

    __tablename__ = "knowledge_chunks"

    id: Mapped[str] = ulid_pk()
    knowledge_base_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    embedding: Mapped[list[float] | None] = mapped_column(JsonDocument)
