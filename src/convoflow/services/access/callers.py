"""Who is calling the admin API, and what they may see and change.

A caller sees their own templates plus public and built-in ones, and changes only their
own. Another owner's private object is reported as :class:`NotFound`, exactly as if it did
not exist; a visible object that belongs to someone else is :class:`Forbidden` to change.
"""

from __future__ import annotations

__all__ = [
    "Caller",
    "Forbidden",
    "Unauthenticated",
    "authenticate",
    "latest_of_family",
    "own_template",
    "visible_template",
    "visible_to",
]

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import Forbidden, NotFound, Unauthenticated
from convoflow.store import accounts
from convoflow.store.models import User, WorkflowTemplate


@dataclass(frozen=True, slots=True)
class Caller:
    """The platform user an API call acts as."""

    id: str
    username: str


async def authenticate(db_session: AsyncSession, plain_key: str | None, *, now: datetime) -> Caller:
    """The caller owning ``plain_key``; :class:`Unauthenticated` for a missing or bad key."""
    if not plain_key:
        raise Unauthenticated("send your API key as 'Authorization: Bearer <key>'")
    async with db_session.begin():
        user: User | None = await accounts.authenticate(db_session, plain_key, now=now)
        if user is None:
            raise Unauthenticated("the API key is unknown or revoked")
        return Caller(id=user.id, username=user.username)


def visible_to(caller: Caller) -> Any:
    """SQL condition: a template row the caller may see (own, public or built-in)."""
    return or_(
        WorkflowTemplate.owner_id == caller.id,
        WorkflowTemplate.is_public.is_(True),
        WorkflowTemplate.is_builtin.is_(True),
    )


async def latest_of_family(db_session: AsyncSession, family_id: str) -> WorkflowTemplate:
    """The latest version of a template family."""
    row = (
        await db_session.execute(
            select(WorkflowTemplate).where(
                WorkflowTemplate.family_id == family_id, WorkflowTemplate.is_latest.is_(True)
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"template {family_id} does not exist")
    return row


async def visible_template(
    db_session: AsyncSession, caller: Caller, template_id: str
) -> WorkflowTemplate:
    """The template version ``template_id`` if the caller may see its family, else NotFound.

    Visibility follows the family's latest version, so making a template private hides
    its older versions too.
    """
    row = await db_session.get(WorkflowTemplate, template_id)
    if row is None:
        raise NotFound(f"template {template_id} does not exist")
    if row.owner_id == caller.id:
        return row
    latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
    if latest.is_public or latest.is_builtin:
        return row
    raise NotFound(f"template {template_id} does not exist")


async def own_template(
    db_session: AsyncSession, caller: Caller, template_id: str
) -> WorkflowTemplate:
    """The template version if the caller owns it: Forbidden when only visible."""
    row = await visible_template(db_session, caller, template_id)
    if row.owner_id != caller.id:
        raise Forbidden("you can change only your own templates")
    return row
