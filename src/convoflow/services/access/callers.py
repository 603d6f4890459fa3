"""Who is calling the admin API, and what they may see and change.

A call is made with an API key (``Authorization: Bearer``) or with the web app's sign-in
cookie; :func:`identify` resolves either to a :class:`Caller`, and everything after that
is the same. A caller signed in by cookie carries the session's CSRF token, which every
change they send must repeat (:meth:`Caller.check_csrf`).

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
    "authenticate_sign_in",
    "identify",
    "latest_of_family",
    "own_template",
    "visible_template",
    "visible_to",
]

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import CsrfFailed, Forbidden, NotFound, Unauthenticated
from convoflow.services.access.sign_in_policy import SignInPolicy
from convoflow.store import accounts, sign_in
from convoflow.store.models import User, WorkflowTemplate


@dataclass(frozen=True, slots=True)
class Caller:
    """The platform user an API call acts as.

    ``sign_in_id`` and ``csrf_token`` are set when the call came with the sign-in cookie,
    and None for an API key.
    """

    id: str
    username: str
    is_admin: bool = False
    sign_in_id: str | None = None
    csrf_token: str | None = None

    def check_csrf(self, sent: str | None) -> None:
        """Refuse a change signed in by cookie whose CSRF token is missing or wrong.

        A browser attaches the cookie to requests other sites make it send; only our own
        pages know the token. A call with an API key needs none.
        """
        if self.csrf_token is None:
            return
        if not sent or not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            raise CsrfFailed(
                "a change signed in by cookie needs the X-CSRF-Token header of the sign-in"
            )


def caller_of(
    user: User, *, sign_in_id: str | None = None, csrf_token: str | None = None
) -> Caller:
    """The caller acting as ``user``."""
    return Caller(
        id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        sign_in_id=sign_in_id,
        csrf_token=csrf_token,
    )


async def identify(
    db_session: AsyncSession,
    *,
    api_key: str | None,
    session_token: str | None,
    now: datetime,
    policy: SignInPolicy,
) -> Caller:
    """The caller of a request: by its API key when it sends one, else by its sign-in
    cookie; :class:`Unauthenticated` when it has neither or a bad one."""
    if api_key:
        return await authenticate(db_session, api_key, now=now)
    if session_token:
        return await authenticate_sign_in(db_session, session_token, now=now, policy=policy)
    raise Unauthenticated("sign in, or send your API key as 'Authorization: Bearer <key>'")


async def authenticate(db_session: AsyncSession, plain_key: str | None, *, now: datetime) -> Caller:
    """The caller owning ``plain_key``; :class:`Unauthenticated` for a missing or bad key."""
    if not plain_key:
        raise Unauthenticated("send your API key as 'Authorization: Bearer <key>'")
    async with db_session.begin():
        user: User | None = await accounts.authenticate(db_session, plain_key, now=now)
        if user is None:
            raise Unauthenticated("the API key is unknown or revoked")
        return caller_of(user)


async def authenticate_sign_in(
    db_session: AsyncSession, token: str, *, now: datetime, policy: SignInPolicy
) -> Caller:
    """The caller signed in with the session ``token``; :class:`Unauthenticated` when the
    session is unknown, ended or expired, or its user deactivated.

    Each use moves the session's idle expiry on (written at most once a minute).
    """
    async with db_session.begin():
        found = await sign_in.find_session(db_session, token)
        if found is None:
            raise Unauthenticated("you are not signed in (or you signed out)")
        session, user = found
        if session.expires_at <= now:
            raise Unauthenticated("your sign-in has expired; sign in again")
        if not user.is_active:
            raise Unauthenticated("this user is deactivated")
        if policy.due_for_touch(last_seen_at=session.last_seen_at, now=now):
            session.last_seen_at = now
            session.expires_at = policy.expiry(created_at=session.created_at, last_seen_at=now)
        return caller_of(user, sign_in_id=session.id, csrf_token=session.csrf_token)


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
