"""Reading the synced WhatsApp message templates of an owner."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.store.models import MessageTemplate

__all__ = ["find_message_template", "has_message_templates"]


async def has_message_templates(db_session: AsyncSession, owner_id: str) -> bool:
    """True once the owner's templates were synced (checks against them then apply)."""
    found = await db_session.scalar(
        select(func.count())
        .select_from(MessageTemplate)
        .where(MessageTemplate.owner_id == owner_id)
    )
    return bool(found)


async def find_message_template(
    db_session: AsyncSession, owner_id: str, name: str, language: str
) -> MessageTemplate | None:
    """The owner's template of that name and language, if synced."""
    return (
        await db_session.execute(
            select(MessageTemplate).where(
                MessageTemplate.owner_id == owner_id,
                MessageTemplate.name == name,
                MessageTemplate.language == language,
            )
        )
    ).scalar_one_or_none()
