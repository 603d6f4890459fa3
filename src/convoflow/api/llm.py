"""``/api/llm`` (prices, model use), ``/api/tools`` and ``/api/knowledge-bases``."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Deleted, Page
from convoflow.api.schemas.llm import (
    DocumentIn,
    DocumentOut,
    DocumentStored,
    KnowledgeBaseIn,
    KnowledgeBaseOut,
    PriceIn,
    PriceOut,
    ToolIn,
    ToolOut,
    UsageOut,
)
from convoflow.errors import InvalidData
from convoflow.services.ai import admin, documents

router = APIRouter(
    tags=["ai"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)
Model = Annotated[str, Path(min_length=1, max_length=200)]
ObjectId = Annotated[str, Path(max_length=26)]


@router.put("/api/llm/prices/{model}", response_model=PriceOut)
async def set_price(
    model: Model, body: PriceIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> PriceOut:
    """Set what a model costs you, per million prompt (input) and completion (output)
    tokens. Calls of a model without a price cost 0 and are flagged in the statistics."""
    row = await admin.set_price(
        db_session,
        caller=caller,
        model=model,
        input_per_million=body.input_per_million,
        output_per_million=body.output_per_million,
        now=runtime.clock.now(),
    )
    return PriceOut.of(row)


@router.get("/api/llm/prices", response_model=Page[PriceOut])
async def list_prices(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[PriceOut]:
    """Your price table, by model name."""
    rows, total = await admin.list_prices(db_session, caller=caller, page=page)
    return Page[PriceOut].of([PriceOut.of(row) for row in rows], total, page)


@router.get(
    "/api/llm/instances/{instance_id}", response_model=UsageOut, responses=error_responses(404)
)
async def instance_usage(
    instance_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep
) -> UsageOut:
    """The tokens and cost of one workflow instance's model calls."""
    usage = await admin.instance_usage(db_session, caller=caller, instance_id=instance_id)
    return UsageOut.of(usage)


@router.post(
    "/api/tools",
    status_code=status.HTTP_201_CREATED,
    response_model=ToolOut,
    responses=error_responses(409),
)
async def create_tool(
    body: ToolIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> ToolOut:
    """Declare an HTTP tool that AI templates (workflow_type tools or full) may allow."""
    row = await admin.create_tool(
        db_session,
        caller=caller,
        fields=body.model_dump(exclude_none=True),
        now=runtime.clock.now(),
    )
    return ToolOut.of(row)


@router.get("/api/tools", response_model=Page[ToolOut])
async def list_tools(caller: CurrentUser, db_session: DbSessionDep, page: Paging) -> Page[ToolOut]:
    """Your HTTP tools, by name."""
    rows, total = await admin.list_tools(db_session, caller=caller, page=page)
    return Page[ToolOut].of([ToolOut.of(row) for row in rows], total, page)


@router.get("/api/tools/{tool_id}", response_model=ToolOut, responses=error_responses(404))
async def get_tool(tool_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep) -> ToolOut:
    """One of your HTTP tools."""
    return ToolOut.of(await admin.get_tool(db_session, caller=caller, tool_id=tool_id))


@router.put("/api/tools/{tool_id}", response_model=ToolOut, responses=error_responses(404, 409))
async def update_tool(
    tool_id: ObjectId,
    body: ToolIn,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> ToolOut:
    """Change a tool (fields left out keep their value; "[redacted]" keeps a header)."""
    row = await admin.update_tool(
        db_session,
        caller=caller,
        tool_id=tool_id,
        fields=body.model_dump(exclude_unset=True),
        now=runtime.clock.now(),
    )
    return ToolOut.of(row)


@router.delete("/api/tools/{tool_id}", response_model=Deleted, responses=error_responses(404))
async def delete_tool(tool_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep) -> Deleted:
    """Remove one of your HTTP tools."""
    await admin.delete_tool(db_session, caller=caller, tool_id=tool_id)
    return Deleted(id=tool_id, action="deleted")


@router.post(
    "/api/knowledge-bases",
    status_code=status.HTTP_201_CREATED,
    response_model=KnowledgeBaseOut,
    responses=error_responses(409),
)
async def create_base(
    body: KnowledgeBaseIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> KnowledgeBaseOut:
    """A new knowledge base (AI templates with workflow_type rag or full may search it)."""
    row = await admin.create_base(
        db_session,
        caller=caller,
        name=body.name,
        description=body.description,
        now=runtime.clock.now(),
    )
    return KnowledgeBaseOut.of(row)


@router.get("/api/knowledge-bases", response_model=Page[KnowledgeBaseOut])
async def list_bases(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[KnowledgeBaseOut]:
    """Your knowledge bases, by name."""
    rows, total = await admin.list_bases(db_session, caller=caller, page=page)
    return Page[KnowledgeBaseOut].of([KnowledgeBaseOut.of(row) for row in rows], total, page)


@router.get(
    "/api/knowledge-bases/{base_id}",
    response_model=KnowledgeBaseOut,
    responses=error_responses(404),
)
async def get_base(
    base_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep
) -> KnowledgeBaseOut:
    """One of your knowledge bases."""
    return KnowledgeBaseOut.of(await admin.get_base(db_session, caller=caller, base_id=base_id))


@router.delete(
    "/api/knowledge-bases/{base_id}", response_model=Deleted, responses=error_responses(404)
)
async def delete_base(base_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep) -> Deleted:
    """Remove a knowledge base and its documents."""
    await admin.delete_base(db_session, caller=caller, base_id=base_id)
    return Deleted(id=base_id, action="deleted")


_FILE_BODY = {"type": "string", "format": "binary"}


@router.post(
    "/api/knowledge-bases/{base_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentStored,
    responses=error_responses(404),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DocumentIn.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": _FILE_BODY,
                            "title": {"type": "string", "maxLength": 300},
                        },
                        "required": ["file"],
                    }
                },
                "text/plain": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": _FILE_BODY},
            }
        }
    },
)
async def add_document(
    base_id: ObjectId,
    request: Request,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    title: Annotated[str | None, Query(max_length=300)] = None,
) -> DocumentStored:
    """Add a document: JSON ``{title, content, content_type}``; a multipart file upload
    (field ``file``, optional field ``title``, default the file's name); or the file itself
    as the body (``?title=``). Text, Markdown, HTML and PDF are read; the kind comes from
    the content type, else the file name. The same title again replaces the document's
    chunks; the same content again changes nothing."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        document = _json_document(await request.body())
    elif content_type == "multipart/form-data":
        document = await _uploaded_document(request, title)
    else:
        kind = documents.file_kind(content_type, field="content_type")
        text = documents.file_text(await request.body(), kind, field="content")
        document = _document(title or "", text, kind)
    stored = await admin.add_document(
        db_session,
        caller=caller,
        base_id=base_id,
        title=document.title,
        content=document.content,
        content_type=document.content_type,
        now=runtime.clock.now(),
        embed=runtime.ai.document_embedder(caller.id),
    )
    return DocumentStored.stored(stored)


def _document(title: str, content: str, content_type: str) -> DocumentIn:
    try:
        return DocumentIn(title=title, content=content, content_type=content_type)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _json_document(raw: bytes) -> DocumentIn:
    try:
        return DocumentIn.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> InvalidData:
    first = exc.errors()[0]
    return InvalidData(".".join(str(part) for part in first["loc"]) or "body", first["msg"])


async def _uploaded_document(request: Request, title: str | None) -> DocumentIn:
    """The ``file`` field of a multipart form, read as a document."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as exc:
        raise InvalidData("file", f"the form could not be read: {exc.message}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidData("file", "is required: the document as a file field named file")
    kind = documents.file_kind(upload.content_type or "", upload.filename or "")
    raw = await upload.read(documents.MAX_FILE_BYTES + 1)
    text = documents.file_text(raw, kind)
    named = form.get("title")
    given = named if isinstance(named, str) and named.strip() else title
    return _document(given or PurePosixPath(upload.filename or "").stem, text, kind)


@router.get(
    "/api/knowledge-bases/{base_id}/documents",
    response_model=Page[DocumentOut],
    responses=error_responses(404),
)
async def list_documents(
    base_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[DocumentOut]:
    """The documents of one of your knowledge bases, by title."""
    rows, total = await admin.list_documents(db_session, caller=caller, base_id=base_id, page=page)
    return Page[DocumentOut].of([DocumentOut.of(row) for row in rows], total, page)


@router.delete(
    "/api/knowledge-bases/{base_id}/documents/{document_id}",
    response_model=Deleted,
    responses=error_responses(404),
)
async def delete_document(
    base_id: ObjectId, document_id: ObjectId, caller: CurrentUser, db_session: DbSessionDep
) -> Deleted:
    """Remove a document and its chunks."""
    await admin.delete_document(db_session, caller=caller, base_id=base_id, document_id=document_id)
    return Deleted(id=document_id, action="deleted")
