"""Workflow instances through the admin API: start, list, update data and status.

An instance started here is driven by the API (an outside system PUTs its data and
completes it); with ``start_conversation`` it is instead the instance of a WhatsApp
conversation started for the customer. Work that touches a customer's conversation runs
under that conversation's lock. HTTP calls (dependencies, end actions) are only queued
here, as ``workflow_effects`` rows, and run by the job runner after the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine import Template
from convoflow.errors import Conflict, InvalidData, NotFound
from convoflow.services.access.callers import Caller, latest_of_family, visible_template
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.customers import (
    conversation_locked,
    customer_of,
    kick_background,
)
from convoflow.services.conversations.outcomes import (
    FINISHED,
    finish,
    new_instance,
)
from convoflow.services.templates.catalog import TemplateRef
from convoflow.services.templates.permissions import check_permitted
from convoflow.services.templates.tallies import count_run_started
from convoflow.services.workflows import lifecycle
from convoflow.store.contacts import find_contact
from convoflow.store.local_channels import is_simulated
from convoflow.store.models import Contact, WorkflowEffect, WorkflowInstance, WorkflowTemplate
from convoflow.store.paging import PageRequest, read_page


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What POST /api/workflows asks for."""

    template_id: str
    conversation_id: str | None = None
    user_id: str | None = None
    state_data: dict[str, Any] = field(default_factory=dict)
    start_conversation: bool = False


@dataclass(frozen=True, slots=True)
class InstanceFilters:
    """What GET /api/workflows lists."""

    status: str | None = None
    template_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None
    limit: int = 50
    offset: int = 0


async def own_instance(
    db_session: AsyncSession, caller: Caller, instance_id: str, *, for_update: bool = False
) -> WorkflowInstance:
    """One of the caller's instances (locked for update when asked)."""
    query = select(WorkflowInstance).where(WorkflowInstance.id == instance_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    instance = (await db_session.execute(query)).scalar_one_or_none()
    if instance is None or instance.owner_id != caller.id:
        raise NotFound(f"workflow instance {instance_id} does not exist")
    return instance


@asynccontextmanager
async def instance_transaction(
    access: ConversationAccess, db_session: AsyncSession, owner_id: str, customer_key: str | None
) -> AsyncIterator[AsyncSession]:
    """A session to work and commit in, holding the customer's conversation lock if any.

    The caller commits inside the block; leaving it without a commit rolls back.
    """
    if customer_key:
        async with conversation_locked(access, owner_id, customer_key) as locked:
            yield locked
    else:
        try:
            yield db_session
        finally:
            if db_session.in_transaction():
                await db_session.rollback()


def contact_context(contact: Contact | None) -> dict[str, str]:
    """What ``{{contact.*}}`` renders to for an instance's customer."""
    if contact is None:
        return {"name": "", "phone": ""}
    return {"name": contact.name, "phone": contact.wa_id or contact.customer_key}


async def _startable(
    db_session: AsyncSession, caller: Caller, template_id: str
) -> WorkflowTemplate:
    row = await visible_template(db_session, caller, template_id)
    latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
    if not latest.is_active:
        raise Conflict(f"template {latest.template_name!r} is deactivated")
    return latest


async def start_instance(
    access: ConversationAccess, db_session: AsyncSession, *, caller: Caller, request: StartRequest
) -> WorkflowInstance:
    """Start the latest version of a template for a customer (403 when not permitted)."""
    customer_ref = request.user_id or request.conversation_id or ""
    now = access.clock.now()
    async with db_session.begin():
        latest = await _startable(db_session, caller, request.template_id)
        contact = await find_contact(db_session, caller.id, customer_ref) if customer_ref else None
        await check_permitted(db_session, latest, contact, customer_ref)
        _, template = await access.catalog.compiled(db_session, latest.id)
        values = lifecycle.checked_state_data(template, request.state_data)
        if not request.start_conversation:
            instance = new_instance(
                owner_id=caller.id,
                template_id=latest.id,
                customer_key=request.user_id,
                conversation_id=request.conversation_id,
                contact_id=contact.id if contact else None,
                current_step=template.start,
                state_data={**template.default_params, **values},
                now=now,
            )
            db_session.add(instance)
            await db_session.flush()
            # An API start has no reply time to average in.
            if not is_simulated(request.user_id):
                await count_run_started(
                    db_session,
                    template_id=latest.id,
                    owner_id=caller.id,
                    response_time_ms=None,
                    now=now,
                )
            return instance
        if not request.conversation_id:
            raise InvalidData("conversation_id", "required to start a conversation")
        customer_key = contact.customer_key if contact else request.conversation_id
    return await _start_conversation(access, caller, latest, customer_key, values, now)


async def _start_conversation(
    access: ConversationAccess,
    caller: Caller,
    latest: WorkflowTemplate,
    customer_key: str,
    values: dict[str, Any],
    now: datetime,
) -> WorkflowInstance:
    ref = TemplateRef(
        template_id=latest.id,
        family_id=latest.family_id,
        name=latest.template_name,
        owner_id=latest.owner_id,
        session_ttl_seconds=latest.session_ttl_seconds,
        allowed_user_types=None,
    )
    store = access.store
    async with conversation_locked(access, caller.id, customer_key) as locked:
        customer = await customer_of(locked, caller.id, customer_key)
        if not customer.channel_number:
            raise Conflict(
                "you have no WhatsApp number to write from: connect one with "
                "POST /api/phone-numbers"
            )
        turn, live = await access.conversations.start(locked, customer, ref, values, now=now)
        instance = await locked.get(WorkflowInstance, turn.instance_id or "")
        effect_ids = await pending_effects(locked, [turn.instance_id or ""])
        await store.commit(locked, live)
    if instance is None:  # pragma: no cover - start always creates an instance
        raise NotFound("the conversation ended before an instance was kept")
    await kick_background(access, effect_row_ids=effect_ids, customers=[(caller.id, customer_key)])
    return instance


async def pending_effects(db_session: AsyncSession, instance_ids: Iterable[str]) -> list[str]:
    """Ids of these instances' effect rows that were written and never attempted yet, in
    the order they were written (the ones the job runner should be kicked for now)."""
    wanted = sorted({instance_id for instance_id in instance_ids if instance_id})
    if not wanted:
        return []
    rows = await db_session.execute(
        select(WorkflowEffect.id)
        .where(
            WorkflowEffect.instance_id.in_(wanted),
            WorkflowEffect.status == "pending",
            WorkflowEffect.attempts == 0,
        )
        .order_by(WorkflowEffect.id)
    )
    return list(rows.scalars())


async def list_instances(
    db_session: AsyncSession, *, caller: Caller, filters: InstanceFilters
) -> tuple[list[WorkflowInstance], int]:
    """One page of the caller's instances, newest first, and the total."""
    query = select(WorkflowInstance).where(WorkflowInstance.owner_id == caller.id)
    if filters.status is not None:
        query = query.where(WorkflowInstance.status == filters.status)
    if filters.template_id is not None:
        family = select(WorkflowTemplate.family_id).where(
            WorkflowTemplate.id == filters.template_id
        )
        versions = select(WorkflowTemplate.id).where(
            WorkflowTemplate.family_id.in_(family.scalar_subquery())
        )
        query = query.where(WorkflowInstance.template_id.in_(versions))
    if filters.user_id is not None:
        query = query.where(WorkflowInstance.user_id == filters.user_id)
    if filters.conversation_id is not None:
        query = query.where(WorkflowInstance.conversation_id == filters.conversation_id)
    async with db_session.begin():
        total = await db_session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await db_session.execute(
            query.order_by(WorkflowInstance.started_at.desc(), WorkflowInstance.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
        return list(rows.scalars()), int(total or 0)


async def get_instance(
    db_session: AsyncSession, *, caller: Caller, instance_id: str
) -> WorkflowInstance:
    """One of the caller's instances."""
    async with db_session.begin():
        return await own_instance(db_session, caller, instance_id)


async def list_effects(
    db_session: AsyncSession, *, caller: Caller, instance_id: str, page: PageRequest
) -> tuple[list[WorkflowEffect], int]:
    """One page of an instance's background jobs (dependencies, end action), oldest
    first, and how many there are."""
    query = (
        select(WorkflowEffect)
        .where(WorkflowEffect.instance_id == instance_id)
        .order_by(WorkflowEffect.created_at, WorkflowEffect.id)
    )
    async with db_session.begin():
        await own_instance(db_session, caller, instance_id)
        rows, total = await read_page(db_session, query, page)
        return list(rows.scalars()), total


async def update_instance(
    access: ConversationAccess,
    db_session: AsyncSession,
    *,
    caller: Caller,
    instance_id: str,
    state_data: dict[str, Any] | None,
    status: str | None,
) -> WorkflowInstance:
    """Merge ``state_data`` (typed by the state_schema) and/or change the status.

    Completing runs the template's dependencies first; a finished instance that is a
    live conversation's ends that conversation too.
    """
    async with db_session.begin():
        customer_key = (await own_instance(db_session, caller, instance_id)).conversation_id
    now = access.clock.now()
    async with instance_transaction(access, db_session, caller.id, customer_key) as work:
        instance = await own_instance(work, caller, instance_id, for_update=True)
        row, template = await access.catalog.compiled(work, instance.template_id)
        live = None
        if customer_key:
            live = await access.store.load(
                work, owner_id=caller.id, customer_key=customer_key, now=now
            )
            live = live if live is not None and live.instance_id == instance.id else None
        if state_data is not None:
            if instance.status in FINISHED:
                raise Conflict(f"the instance is {instance.status}; its data can no longer change")
            values = lifecycle.checked_state_data(template, state_data)
            lifecycle.merge_state_data(instance, values)
            instance.last_interaction = now
            if live is not None:
                live.state.variables = dict(instance.state_data)
        effect_ids: list[str] = []
        if status is not None and status != instance.status:
            contact = await work.get(Contact, instance.contact_id) if instance.contact_id else None
            effect_ids = await _change_status(
                work, instance, row, template, status, contact=contact_context(contact), now=now
            )
        if live is not None and instance.status in FINISHED:
            await access.store.delete(work, owner_id=caller.id, customer_key=live.customer_key)
            live = None
        await access.store.commit(work, live)
    await kick_background(access, effect_row_ids=effect_ids)
    return instance


async def _change_status(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    row: WorkflowTemplate,
    template: Template,
    target: str,
    *,
    contact: dict[str, str],
    now: datetime,
) -> list[str]:
    lifecycle.check_transition(instance.status, target)
    waits_for_dependencies = lifecycle.dependency_wait(instance, row)
    if target == "completed":
        if waits_for_dependencies:
            return []  # already completing: the dependencies are running
        return await lifecycle.request_completion(
            db_session, instance, row, template, contact=contact, now=now
        )
    if target in FINISHED:
        await finish(db_session, instance, target, now=now)
        return []
    if target == "active" and waits_for_dependencies:
        raise Conflict("the instance waits for its dependencies; resolve them or cancel it")
    if instance.status == "failed":
        instance.completed_at, instance.error = None, None
    instance.status = target
    instance.last_interaction = now
    return []
