"""``/api/conversations``, ``/api/messages`` and ``/api/stats``: what customers are doing."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.common import Page
from convoflow.api.schemas.conversations import (
    ConversationOut,
    ConversationRelease,
    ConversationReset,
    MessageOut,
    TemplateStatsOut,
)
from convoflow.services.conversations import admin as conversations_admin
from convoflow.services.templates import statistics as stats

#: ``?phone_number_id=``: for owners with several business numbers.
OnNumber = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only what runs on this business number of yours (its phone_number_id).",
    ),
]
#: ``?include_simulated=true``: also the builder simulator's test customers.
IncludeSimulated = Annotated[
    bool, Query(description="Also the test customers of the builder's simulator.")
]
router = APIRouter(
    prefix="/api",
    tags=["conversations"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)


@router.get("/conversations", response_model=Page[ConversationOut])
async def list_conversations(
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    page: Paging,
    flow: Annotated[str | None, Query(description="Only this template (by name).")] = None,
    step: Annotated[str | None, Query(description="Only customers at this step.")] = None,
    phone_number_id: OnNumber = None,
    status: Annotated[
        Literal["active", "waiting", "handoff"] | None,
        Query(description="Only `handoff` (a person has it), `waiting` or `active` ones."),
    ] = None,
    include_simulated: IncludeSimulated = False,
) -> Page[ConversationOut]:
    """Live conversations, newest first (a conversation runs on the business number of the
    customer's latest message)."""
    live, total = await conversations_admin.list_conversations(
        runtime.access,
        db_session,
        caller=caller,
        flow=flow,
        step=step,
        page=page,
        phone_number_id=phone_number_id,
        status=status,
        include_simulated=include_simulated,
    )
    return Page[ConversationOut].of([ConversationOut.of(item) for item in live], total, page)


@router.get(
    "/conversations/{phone}", response_model=ConversationOut, responses=error_responses(404)
)
async def get_conversation(
    phone: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    phone_number_id: OnNumber = None,
) -> ConversationOut:
    """A customer's live conversation, by WhatsApp number."""
    live = await conversations_admin.get_conversation(
        runtime.access, db_session, caller=caller, phone=phone, phone_number_id=phone_number_id
    )
    return ConversationOut.of(live)


@router.delete(
    "/conversations/{phone}", response_model=ConversationReset, responses=error_responses(404)
)
async def reset_conversation(
    phone: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> ConversationReset:
    """Reset a customer: their state is deleted and its instance cancelled."""
    result = await conversations_admin.reset_conversation(
        runtime.access, db_session, caller=caller, phone=phone
    )
    return ConversationReset.of(result)


@router.post(
    "/conversations/{phone}/release",
    response_model=ConversationRelease,
    responses=error_responses(404, 409),
)
async def release_conversation(
    phone: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> ConversationRelease:
    """Give a handed-off conversation back to the bot: its handoff closes and the flow goes
    on (a `handoff` step at its `next`); the customer's next message runs the bot again."""
    result = await conversations_admin.release_conversation(
        runtime.access, db_session, caller=caller, phone=phone
    )
    return ConversationRelease.of(result)


@router.get("/messages", response_model=Page[MessageOut])
async def list_messages(
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    phone: Annotated[str | None, Query(description="Only this customer.")] = None,
    direction: Literal["in", "out"] | None = None,
    phone_number_id: OnNumber = None,
    include_simulated: IncludeSimulated = False,
) -> Page[MessageOut]:
    """The message log, newest first."""
    rows, total = await conversations_admin.list_messages(
        db_session,
        caller=caller,
        phone=phone,
        direction=direction,
        limit=page.limit,
        offset=page.offset,
        phone_number_id=phone_number_id,
        include_simulated=include_simulated,
    )
    return Page[MessageOut].of([MessageOut.of(row) for row in rows], total, page)


@router.get(
    "/stats/templates/{template_id}",
    response_model=TemplateStatsOut,
    responses=error_responses(404),
)
async def template_stats(
    template_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> TemplateStatsOut:
    """Usage count, completion rate, average response time, the step funnel and the model's
    tokens and cost (``llm_calls``, a daily breakdown, models without a price)."""
    await runtime.statistics.flush_for_reading()
    computed = await stats.template_stats(
        db_session, caller=caller, template_id=template_id, now=runtime.clock.now()
    )
    return TemplateStatsOut.of(computed)
