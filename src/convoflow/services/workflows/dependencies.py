"""Resolving workflow dependencies: from an outside system, or when their job finishes.

``POST /api/workflows/{id}/dependencies/{name}`` (:func:`resolve_dependency`) settles a
dependency that completes later (a KYC check that takes hours). ``name`` is either one of
the template's ``workflow_dependencies`` the instance waits for, or the ``http`` step (or
its effect id) a conversation waits at. A conversation moves on with the result; an
instance that belongs to a conversation has its customer told on WhatsApp.

:func:`dependency_finished` is the job runner's result handler for ``dependency`` effects
(registered in the result-handler registry of :mod:`convoflow.access`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.events import EffectResult
from convoflow.errors import Conflict, NotFound
from convoflow.services.access.callers import Caller
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.customers import (
    customer_of,
    kick_background,
    queue_text,
)
from convoflow.services.conversations.outcomes import DEPENDENCY_KIND
from convoflow.services.templates.dependency_specs import WorkflowDependency, parse_dependencies
from convoflow.services.workflows import lifecycle
from convoflow.services.workflows.effect_results import ResultContext
from convoflow.services.workflows.effect_settlement import settle_effect
from convoflow.services.workflows.effect_types import EffectRun, FedBack, FinishedEffect
from convoflow.services.workflows.instances import (
    contact_context,
    instance_transaction,
    own_instance,
    pending_effects,
)
from convoflow.sessions.base import LiveConversation
from convoflow.store.models import Contact, WorkflowEffect, WorkflowInstance, WorkflowTemplate


async def resolve_dependency(
    access: ConversationAccess,
    db_session: AsyncSession,
    *,
    caller: Caller,
    instance_id: str,
    name: str,
    ok: bool,
    data: Any,
    error: str,
) -> WorkflowInstance:
    """Settle a dependency the instance waits for with an outside system's answer."""
    async with db_session.begin():
        customer_key = (await own_instance(db_session, caller, instance_id)).conversation_id
    now = access.clock.now()
    customers: list[tuple[str, str]] = []
    resumed: LiveConversation | None = None
    async with instance_transaction(access, db_session, caller.id, customer_key) as work:
        instance = await own_instance(work, caller, instance_id, for_update=True)
        waiting_effect = _waiting_effect(instance, name)
        if waiting_effect is not None and customer_key:
            resumed = await _resume_conversation(
                access, work, instance, customer_key, waiting_effect, ok, data, error, now
            )
        else:
            row = await _template_row(work, instance)
            dependency = _pending_dependency(instance, row, name)
            _, text = await lifecycle.apply_dependency_outcome(
                work,
                instance,
                row,
                dependency,
                ok=ok,
                data=data,
                error=error or "reported as failed",
                contact=await _contact_of(work, instance),
                now=now,
            )
            await _settle_queued_calls(work, instance.id, name, ok)
            if customer_key and await _notify(
                work,
                instance,
                row,
                customer_key,
                text,
                dependency_name=name,
                now=now,
            ):
                customers.append((caller.id, customer_key))
        new_effects = await pending_effects(work, [instance.id])
        await access.store.commit(work, resumed)
    await kick_background(access, effect_row_ids=new_effects, customers=customers)
    return instance


def _waiting_effect(instance: WorkflowInstance, name: str) -> str | None:
    """The effect id of the ``http`` step a conversation waits at, if ``name`` names it."""
    effect_id = instance.waiting_for
    if instance.status != "waiting" or not effect_id or "#" not in effect_id:
        return None
    return effect_id if name in (effect_id, effect_id.split("#", 1)[0]) else None


def _pending_dependency(
    instance: WorkflowInstance, row: WorkflowTemplate, name: str
) -> WorkflowDependency:
    dependencies = {item.name: item for item in parse_dependencies(row.workflow_dependencies)}
    if name not in dependencies:
        raise NotFound(f"the instance has no dependency named {name!r}")
    if instance.status != "waiting" or name not in instance.pending_dependencies:
        raise Conflict(f"the instance is not waiting for {name!r}")
    return dependencies[name]


async def _template_row(db_session: AsyncSession, instance: WorkflowInstance) -> WorkflowTemplate:
    row = await db_session.get(WorkflowTemplate, instance.template_id)
    if row is None:  # pragma: no cover - the foreign key cascades
        raise NotFound(f"template {instance.template_id} does not exist")
    return row


async def _contact_of(db_session: AsyncSession, instance: WorkflowInstance) -> dict[str, str]:
    contact = await db_session.get(Contact, instance.contact_id) if instance.contact_id else None
    return contact_context(contact)


async def _resume_conversation(
    access: ConversationAccess,
    db_session: AsyncSession,
    instance: WorkflowInstance,
    customer_key: str,
    effect_id: str,
    ok: bool,
    data: Any,
    error: str,
    now: datetime,
) -> LiveConversation | None:
    """Give the conversation waiting at an ``http`` step the outside system's answer.

    Returns the conversation to keep when the caller commits.
    """
    store = access.store
    live = await store.load(
        db_session, owner_id=instance.owner_id, customer_key=customer_key, now=now
    )
    if live is None or live.instance_id != instance.id:
        raise Conflict("the conversation of this instance is no longer live")
    customer = await customer_of(db_session, instance.owner_id, customer_key)
    event = EffectResult(effect_id, ok=ok, data=data, error=error or "reported as failed")
    _, resumed = await access.conversations.resume(db_session, customer, event, now=now)
    await db_session.execute(
        update(WorkflowEffect)
        .where(
            WorkflowEffect.instance_id == instance.id,
            WorkflowEffect.effect_id == effect_id,
            WorkflowEffect.status == "pending",
        )
        .values(status="done" if ok else "failed", result={"resolved_by": "api", "ok": ok})
        .execution_options(synchronize_session=False)
    )
    await db_session.refresh(instance)
    return resumed


async def _settle_queued_calls(
    db_session: AsyncSession, instance_id: str, name: str, ok: bool
) -> None:
    """A dependency resolved from outside: its queued call (if any) need not run."""
    prefix = f"{DEPENDENCY_KIND}:{name}:"
    await db_session.execute(
        update(WorkflowEffect)
        .where(
            WorkflowEffect.instance_id == instance_id,
            WorkflowEffect.effect_id.startswith(prefix, autoescape=True),
            WorkflowEffect.status == "pending",
        )
        .values(status="done" if ok else "failed", result={"resolved_by": "api", "ok": ok})
        .execution_options(synchronize_session=False)
    )


async def _notify(
    db_session: AsyncSession,
    instance: WorkflowInstance,
    row: WorkflowTemplate,
    customer_key: str,
    text: str,
    *,
    dependency_name: str,
    now: datetime,
) -> bool:
    """Tell the customer of the instance's conversation what happened."""
    customer = await customer_of(db_session, instance.owner_id, customer_key)
    return await queue_text(
        db_session,
        customer,
        text=text,
        variables=instance.state_data,
        step_id=f"{DEPENDENCY_KIND}:{dependency_name}",
        template_id=row.id,
        instance_id=instance.id,
        now=now,
    )


async def dependency_finished(
    context: ResultContext, effect: FinishedEffect, run: EffectRun
) -> FedBack | None:
    """The job runner's handler for ``dependency`` effects: apply the call's final result.

    A call whose dependency waits for an outside system (``wait_for_callback``) only
    records its answer; the instance waits for POST .../dependencies/{name}. A result for
    an instance that has moved on (resolved, cancelled) only settles the row.
    """
    async with context.db_sessions.begin() as db_session:
        if not await settle_effect(db_session, effect, run, now=context.clock.now()):
            return None
        spec = await db_session.scalar(
            select(WorkflowEffect.spec).where(WorkflowEffect.id == effect.id)
        )
        name = str((spec or {}).get("name", ""))
        instance = (
            await db_session.execute(
                select(WorkflowInstance)
                .where(WorkflowInstance.id == effect.instance_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if instance is None or instance.status != "waiting":
            return None
        if name not in instance.pending_dependencies:
            return None
        row = await _template_row(db_session, instance)
        dependency = {d.name: d for d in parse_dependencies(row.workflow_dependencies)}.get(name)
        if dependency is None or (run.ok and dependency.wait_for_callback):
            return None
        _, text = await lifecycle.apply_dependency_outcome(
            db_session,
            instance,
            row,
            dependency,
            ok=run.ok,
            data=run.data,
            error=run.error,
            contact=await _contact_of(db_session, instance),
            now=context.clock.now(),
        )
        customer_key = instance.conversation_id
        notified = bool(customer_key) and await _notify(
            db_session,
            instance,
            row,
            customer_key or "",
            text,
            dependency_name=name,
            now=context.clock.now(),
        )
    return FedBack(effect.owner_id, customer_key if notified else None, [instance.id])
