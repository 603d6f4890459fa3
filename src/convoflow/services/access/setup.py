"""Operator use cases: seed built-in templates, create users and keys, clean up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.builtin import load_builtin_templates
from convoflow.services.access.passwords import hash_password
from convoflow.sessions.states import ConversationStates
from convoflow.store import accounts, templates

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SeedReport:
    """Which built-in templates the seed created, updated (new version) or left alone."""

    owner_created: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


async def seed(
    db_sessions: async_sessionmaker[AsyncSession],
    *,
    owner_name: str = "admin",
    phone_number_id: str = "",
    waba_id: str = "",
) -> SeedReport:
    """Create the default owner and store the built-in templates for it (idempotent).

    The default owner is an admin: it creates the other users in the web app.
    ``phone_number_id`` (the settings' number, with its ``waba_id``) is registered for the
    default owner: the zero-setup number, answered by the built-in templates.
    """
    report = SeedReport()
    async with db_sessions.begin() as db_session:
        owner, report.owner_created = await accounts.ensure_user(db_session, owner_name)
        owner.is_admin = True
        if phone_number_id:
            number = await accounts.ensure_phone_number(
                db_session, owner=owner, phone_number_id=phone_number_id, waba_id=waba_id
            )
            if number.owner_id != owner.id:
                logger.warning(
                    "phone number %s of the settings is registered to another user: its "
                    "webhooks go to them, not to %s",
                    phone_number_id,
                    owner_name,
                )
        for definition in load_builtin_templates():
            result = await templates.upsert_template(
                db_session,
                owner_id=owner.id,
                definition={**definition, "is_public": True},
                is_builtin=True,
                changelog="built-in template shipped with convoflow",
            )
            getattr(report, result.action).append(result.template.template_name)
    return report


async def create_user_with_key(
    db_sessions: async_sessionmaker[AsyncSession],
    *,
    username: str,
    password: str | None = None,
    is_admin: bool = False,
) -> str:
    """Create a platform user (who signs in with ``password`` when given) and return a new
    plain API key for it."""
    password_hash = await hash_password(password) if password is not None else None
    async with db_sessions.begin() as db_session:
        user = await accounts.create_user(
            db_session, username=username, is_admin=is_admin, password_hash=password_hash
        )
        return await accounts.create_api_key(db_session, user=user, name="created with the user")


async def create_key(
    db_sessions: async_sessionmaker[AsyncSession], *, username: str, label: str = ""
) -> str:
    """Return a new plain API key for an existing user."""
    async with db_sessions.begin() as db_session:
        user = await accounts.get_user(db_session, username)
        return await accounts.create_api_key(db_session, user=user, name=label)


async def delete_expired_states(
    db_sessions: async_sessionmaker[AsyncSession], states: ConversationStates, *, now: datetime
) -> int:
    """End expired conversations (cancelling their unfinished runs); return how many."""
    async with db_sessions() as db_session:
        return await states.expire(db_session, now)
