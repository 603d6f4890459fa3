"""Talking to the bot in tests, through the same path as WhatsApp customers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from convoflow.channels.terminal.chat import ChatSession
from convoflow.channels.terminal.render import message_lines
from convoflow.runtime import Runtime
from convoflow.sessions.base import LiveConversation
from convoflow.store import accounts
from convoflow.store.models import WorkflowInstance, WorkflowTemplate


async def customer_key(runtime: Runtime, phone: str, name: str = "Ana") -> ChatSession:
    chat = ChatSession(
        runtime.access, runtime.processor, owner_name="admin", phone=phone, name=name
    )
    await chat.open()
    return chat


async def say(chat: ChatSession, text: str) -> list[str]:
    """The bot's replies as plain text lines, all messages joined."""
    return [line for message in await chat.say(text) for line in message_lines(message.body)]


async def live_state(runtime: Runtime, phone: str) -> LiveConversation | None:
    async with runtime.db_sessions() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        return await runtime.store.load(
            db_session, owner_id=owner.id, customer_key=phone, now=runtime.clock.now()
        )


async def instances(runtime: Runtime, phone: str) -> list[WorkflowInstance]:
    async with runtime.db_sessions() as db_session:
        rows = await db_session.execute(
            select(WorkflowInstance)
            .where(WorkflowInstance.user_id == phone)
            .order_by(WorkflowInstance.started_at, WorkflowInstance.id)
        )
        return list(rows.scalars())


async def latest_template(runtime: Runtime, name: str) -> WorkflowTemplate:
    async with runtime.db_sessions() as db_session:
        row = (
            await db_session.execute(
                select(WorkflowTemplate).where(
                    WorkflowTemplate.template_name == name, WorkflowTemplate.is_latest.is_(True)
                )
            )
        ).scalar_one()
        return row


def joined(lines: list[str]) -> str:
    return "\n".join(lines)


def as_dict(value: Any) -> dict[str, Any]:
    return dict(value)
