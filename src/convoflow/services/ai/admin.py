"""The owner's model settings through the admin API: prices, HTTP tools, knowledge bases
and documents, and what a run's model calls used. Every object is the caller's own
(another owner's is a 404)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.ai import knowledge
from convoflow.services.ai.documents import PDF, TEXT_TYPES
from convoflow.services.ai.tools import BUILTIN_TOOLS
from convoflow.store.models import (
    KnowledgeBase,
    KnowledgeChunk,
    KnowledgeDocument,
    LlmCall,
    LlmPrice,
    LlmTool,
    WorkflowInstance,
)
from convoflow.store.paging import PageRequest

Owned = TypeVar("Owned", LlmTool, KnowledgeBase)
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
#: What a stored document's text was written as (a PDF's is the text of its pages).
CONTENT_TYPES = (*TEXT_TYPES, PDF)


# -- prices --------------------------------------------------------------------------


async def set_price(
    db_session: AsyncSession,
    *,
    caller: Caller,
    model: str,
    input_per_million: float,
    output_per_million: float,
    now: datetime,
) -> LlmPrice:
    """Set what ``model`` costs the caller (creating or replacing the price)."""
    async with db_session.begin():
        row = await db_session.scalar(
            select(LlmPrice).where(LlmPrice.owner_id == caller.id, LlmPrice.model == model)
        )
        if row is None:
            row = LlmPrice(owner_id=caller.id, model=model, created_at=now)
            db_session.add(row)
        row.input_per_million = input_per_million
        row.output_per_million = output_per_million
        row.updated_at = now
    return row


async def list_prices(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[LlmPrice], int]:
    """The caller's prices by model name."""
    query = select(LlmPrice).where(LlmPrice.owner_id == caller.id)
    return await _page(db_session, query, LlmPrice.model, page)


async def _page(
    db_session: AsyncSession, query: Any, order: Any, page: PageRequest
) -> tuple[list[Any], int]:
    async with db_session.begin():
        total = await db_session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await db_session.scalars(query.order_by(order).limit(page.limit).offset(page.offset))
        return list(rows), int(total or 0)


# -- usage ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """What a run's model calls used."""

    instance_id: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    unpriced_models: list[str]


async def instance_usage(db_session: AsyncSession, *, caller: Caller, instance_id: str) -> Usage:
    """The token and cost totals of one of the caller's workflow instances."""
    async with db_session.begin():
        owner = await db_session.scalar(
            select(WorkflowInstance.owner_id).where(WorkflowInstance.id == instance_id)
        )
        if owner != caller.id:
            raise NotFound(f"workflow instance {instance_id} does not exist")
        calls, prompt, completion, cost = (
            await db_session.execute(
                select(
                    func.count(LlmCall.id),
                    func.coalesce(func.sum(LlmCall.prompt_tokens), 0),
                    func.coalesce(func.sum(LlmCall.completion_tokens), 0),
                    func.coalesce(func.sum(LlmCall.cost), 0.0),
                ).where(LlmCall.instance_id == instance_id)
            )
        ).one()
        unpriced = await db_session.scalars(
            select(LlmCall.model)
            .where(LlmCall.instance_id == instance_id, LlmCall.priced.is_(False))
            .distinct()
        )
        return Usage(
            instance_id,
            int(calls),
            int(prompt),
            int(completion),
            int(prompt) + int(completion),
            float(cost),
            sorted(unpriced),
        )


# -- tools ---------------------------------------------------------------------------


def _tool_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    name = str(fields.get("name") or "")
    if not TOOL_NAME.match(name):
        raise InvalidData("name", "letters, digits, _ and -, starting with a letter or _")
    if name in BUILTIN_TOOLS:
        raise InvalidData("name", f"{name!r} is a built-in tool")
    parameters = fields.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise InvalidData("parameters", 'must be a JSON schema of "type": "object"')
    url = str(fields.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise InvalidData("url", "must start with http:// or https://")
    return {
        "name": name,
        "description": str(fields.get("description") or ""),
        "parameters": parameters,
        "url": url,
        "method": str(fields.get("method") or "POST").upper(),
        "headers": {str(k): str(v) for k, v in (fields.get("headers") or {}).items()},
        "timeout_seconds": float(fields.get("timeout_seconds") or 10.0),
        "retries": int(fields.get("retries") or 0) if "retries" in fields else 1,
    }


async def create_tool(
    db_session: AsyncSession, *, caller: Caller, fields: Mapping[str, Any], now: datetime
) -> LlmTool:
    """Declare an HTTP tool (409 when the caller has one of that name)."""
    values = _tool_fields(fields)
    row = LlmTool(owner_id=caller.id, created_at=now, updated_at=now, **values)
    try:
        async with db_session.begin():
            db_session.add(row)
    except IntegrityError:
        raise Conflict(f"a tool named {values['name']!r} exists already") from None
    return row


async def update_tool(
    db_session: AsyncSession,
    *,
    caller: Caller,
    tool_id: str,
    fields: Mapping[str, Any],
    now: datetime,
) -> LlmTool:
    """Change a tool; header values left out (or sent as the redaction mark) are kept."""
    try:
        async with db_session.begin():
            row = await _own(db_session, LlmTool, caller, tool_id, "tool")
            current = {
                "name": row.name,
                "description": row.description,
                "parameters": row.parameters,
                "url": row.url,
                "method": row.method,
                "timeout_seconds": row.timeout_seconds,
                "retries": row.retries,
            }
            values = _tool_fields({**current, **fields})
            headers = dict(row.headers)
            if "headers" in fields:
                sent = fields.get("headers") or {}
                headers = {
                    k: (headers.get(k, "") if v == REDACTED else str(v)) for k, v in sent.items()
                }
            values["headers"] = headers
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = now
    except IntegrityError:
        raise Conflict(f"a tool named {fields.get('name')!r} exists already") from None
    return row


REDACTED = "[redacted]"


async def list_tools(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[LlmTool], int]:
    """The caller's tools by name."""
    return await _page(
        db_session, select(LlmTool).where(LlmTool.owner_id == caller.id), LlmTool.name, page
    )


async def get_tool(db_session: AsyncSession, *, caller: Caller, tool_id: str) -> LlmTool:
    """One of the caller's tools."""
    async with db_session.begin():
        return await _own(db_session, LlmTool, caller, tool_id, "tool")


async def delete_tool(db_session: AsyncSession, *, caller: Caller, tool_id: str) -> None:
    """Remove one of the caller's tools."""
    async with db_session.begin():
        await db_session.delete(await _own(db_session, LlmTool, caller, tool_id, "tool"))


async def _own(
    db_session: AsyncSession, model: type[Owned], caller: Caller, object_id: str, what: str
) -> Owned:
    row = await db_session.get(model, object_id)
    if row is None or row.owner_id != caller.id:
        raise NotFound(f"{what} {object_id} does not exist")
    return row


# -- knowledge bases -----------------------------------------------------------------


async def create_base(
    db_session: AsyncSession, *, caller: Caller, name: str, description: str, now: datetime
) -> KnowledgeBase:
    """A new knowledge base (409 when the caller has one of that name)."""
    if not name.strip():
        raise InvalidData("name", "is required")
    row = KnowledgeBase(
        owner_id=caller.id,
        name=name.strip(),
        description=description,
        created_at=now,
        updated_at=now,
    )
    try:
        async with db_session.begin():
            db_session.add(row)
    except IntegrityError:
        raise Conflict(f"a knowledge base named {name!r} exists already") from None
    return row


async def list_bases(
    db_session: AsyncSession, *, caller: Caller, page: PageRequest
) -> tuple[list[KnowledgeBase], int]:
    """The caller's knowledge bases by name."""
    query = select(KnowledgeBase).where(KnowledgeBase.owner_id == caller.id)
    return await _page(db_session, query, KnowledgeBase.name, page)


async def get_base(db_session: AsyncSession, *, caller: Caller, base_id: str) -> KnowledgeBase:
    """One of the caller's knowledge bases."""
    async with db_session.begin():
        return await _own(db_session, KnowledgeBase, caller, base_id, "knowledge base")


async def delete_base(db_session: AsyncSession, *, caller: Caller, base_id: str) -> None:
    """Remove a knowledge base with its documents."""
    async with db_session.begin():
        base = await _own(db_session, KnowledgeBase, caller, base_id, "knowledge base")
        for model in (KnowledgeChunk, KnowledgeDocument):
            for row in await db_session.scalars(
                select(model).where(model.knowledge_base_id == base.id)
            ):
                await db_session.delete(row)
        await db_session.flush()
        await db_session.delete(base)


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document after an upload, and whether the upload changed anything."""

    document: KnowledgeDocument
    chunks: int
    changed: bool


async def add_document(
    db_session: AsyncSession,
    *,
    caller: Caller,
    base_id: str,
    title: str,
    content: str,
    content_type: str,
    now: datetime,
    embed: knowledge.Embedder | None,
) -> StoredDocument:
    """Store a document's chunks (see :func:`knowledge.store_document`)."""
    kind = content_type.split(";")[0].strip().lower() or "text/plain"
    if kind not in CONTENT_TYPES:
        raise InvalidData("content_type", f"must be one of {', '.join(CONTENT_TYPES)}")
    if not title.strip():
        raise InvalidData("title", "is required")
    text = knowledge.plain_text(content, kind)
    if not text:
        raise InvalidData("content", "the document has no text")
    async with db_session.begin():
        base = await _own(db_session, KnowledgeBase, caller, base_id, "knowledge base")
        document, changed = await knowledge.store_document(
            db_session,
            base,
            title=title.strip(),
            text=text,
            content_type=kind,
            now=now,
            embed=embed,
        )
        count = await db_session.scalar(
            select(func.count()).where(KnowledgeChunk.document_id == document.id)
        )
    return StoredDocument(document, int(count or 0), changed)


async def list_documents(
    db_session: AsyncSession, *, caller: Caller, base_id: str, page: PageRequest
) -> tuple[list[KnowledgeDocument], int]:
    """The documents of one of the caller's knowledge bases, by title."""
    await get_base(db_session, caller=caller, base_id=base_id)
    query = select(KnowledgeDocument).where(KnowledgeDocument.knowledge_base_id == base_id)
    return await _page(db_session, query, KnowledgeDocument.title, page)


async def delete_document(
    db_session: AsyncSession, *, caller: Caller, base_id: str, document_id: str
) -> None:
    """Remove a document and its chunks."""
    async with db_session.begin():
        await _own(db_session, KnowledgeBase, caller, base_id, "knowledge base")
        document = await db_session.get(KnowledgeDocument, document_id)
        if document is None or document.knowledge_base_id != base_id:
            raise NotFound(f"document {document_id} does not exist")
        for chunk in await db_session.scalars(
            select(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id)
        ):
            await db_session.delete(chunk)
        await db_session.flush()
        await db_session.delete(document)
