"""The inbox: a customer's message history, agent replies, and live updates as they happen.

``GET /api/events`` is a Server-Sent Events stream of the caller's conversations: events
``message``, ``status`` and ``conversation`` (see docs/inbox.md), a comment line at once
when the stream is live and a heartbeat comment every :data:`HEARTBEAT_SECONDS`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.conversations import MessageOut
from convoflow.engine.limits import TEXT_BODY
from convoflow.services.conversations import admin as conversations_admin
from convoflow.services.live import LiveEvent, LiveEvents
from convoflow.services.outbox.agent_replies import reply_as_agent

#: Seconds between two heartbeat comments of an idle event stream.
HEARTBEAT_SECONDS = 15.0

router = APIRouter(
    prefix="/api",
    tags=["inbox"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


class AgentReply(BaseModel):
    """A person's answer to a handed-off customer."""

    text: str = Field(min_length=1, max_length=TEXT_BODY, description="What the customer reads.")


@router.post(
    "/conversations/{phone}/messages",
    response_model=MessageOut,
    status_code=201,
    responses=error_responses(404, 409),
)
async def send_agent_reply(
    phone: str,
    body: AgentReply,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    phone_number_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Write from this number of yours (default: the "
            "number the conversation runs on).",
        ),
    ] = None,
) -> MessageOut:
    """Answer a handed-off customer as yourself; the reply is queued for the sender (409
    when the conversation is not handed off or the 24-hour window is closed)."""
    row = await reply_as_agent(
        runtime.access,
        db_session,
        caller=caller,
        phone=phone,
        text=body.text,
        phone_number_id=phone_number_id,
    )
    return MessageOut.of(row)


@router.get("/conversations/{phone}/messages", response_model=Page[MessageOut])
async def conversation_messages(
    phone: str, caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[MessageOut]:
    """A customer's messages in and out, newest first, with their delivery status."""
    rows, total = await conversations_admin.list_messages(
        db_session,
        caller=caller,
        phone=phone,
        direction=None,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[MessageOut].of([MessageOut.of(row) for row in rows], total, page)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The event stream (docs/inbox.md lists the events).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def live_events(caller: CurrentUser, runtime: RuntimeDep) -> StreamingResponse:
    """Your conversations' events as they happen (Server-Sent Events)."""
    return StreamingResponse(
        _stream(runtime.live, caller.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(live: LiveEvents, owner_id: str) -> AsyncIterator[str]:
    async with live.subscribe(owner_id) as subscription:
        yield ": live\n\n"
        while True:
            event = await subscription.next(HEARTBEAT_SECONDS)
            yield ": heartbeat\n\n" if event is None else _frame(event)


def _frame(event: LiveEvent) -> str:
    """One SSE message: ``event: <kind>`` and the data as one JSON line."""
    return f"event: {event.kind}\ndata: {json.dumps(event.data, default=str)}\n\n"
