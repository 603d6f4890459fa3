"""Simulator sessions: open one on a template (its draft or its latest version), talk, reset.

A session's test customer (key ``sim:<session id>``, channel ``simulator``) goes through the
same message path as the terminal chat (:class:`~convoflow.services.inbox.local.
LocalConversation`): inbound rows processed under the conversation lock, replies as outbox
rows no sender takes. Their runs are not counted in the statistics and do not run the
template's end action (see :class:`~convoflow.services.conversations.service.Customer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import OutboundMessage
from convoflow.errors import Forbidden, InvalidData, NotFound
from convoflow.services.access.callers import Caller, latest_of_family, visible_template
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.inbox.intake import MessageProcessor
from convoflow.services.inbox.local import LocalConversation, LocalCustomer
from convoflow.services.simulator.replies import reply_payload
from convoflow.services.templates.catalog import template_ref
from convoflow.services.templates.drafts import draft_snapshot
from convoflow.store.local_channels import SIMULATOR_CHANNEL, simulated_key
from convoflow.store.models import (
    Contact,
    SimulatorSession,
    UserType,
    WhatsAppMessage,
    WorkflowInstance,
)
from convoflow.store.types import new_id

TEST_CUSTOMER_NAME = "Test customer"


@dataclass(slots=True)
class SimulatorTurn:
    """Where a session is after a turn: the bot's new messages, the step it waits at
    (None once the run ended), the run's status and the steps it visited so far."""

    session: SimulatorSession
    user_type: str | None
    messages: list[OutboundMessage] = field(default_factory=list)
    step: str | None = None
    template_name: str | None = None
    finished: bool = True
    status: str | None = None
    visited: list[str] = field(default_factory=list)


class Simulator:
    """Opens, drives and ends the callers' simulator sessions."""

    def __init__(self, access: ConversationAccess, processor: MessageProcessor) -> None:
        self.access = access
        self.processor = processor

    async def open(
        self, *, caller: Caller, template_id: str, use_draft: bool, user_type: str | None
    ) -> SimulatorTurn:
        """Start a session on the template and run it up to its first wait.

        With ``use_draft`` the caller's draft runs (when they own the template and it has
        one: else its latest version); a draft with problems cannot run (422). Customers
        of ``user_type`` (its id or name; None: no type) must be allowed to start it (403).
        """
        async with self.access.db_sessions.begin() as db_session:
            row = await visible_template(db_session, caller, template_id)
            latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
            run = None
            if use_draft and latest.owner_id == caller.id:
                run = await draft_snapshot(db_session, caller, latest)
            ref = await template_ref(db_session, run or latest, family_id=latest.family_id)
            kind = await _user_type(db_session, caller, user_type)
            if not ref.permits(kind.id if kind else None):
                who = f"customers of type {kind.name!r}" if kind else "customers without a type"
                raise Forbidden(f"{who} may not start this template (see its permissions)")
            session = SimulatorSession(
                id=new_id(),
                owner_id=caller.id,
                family_id=latest.family_id,
                template_id=ref.template_id,
                use_draft=run is not None,
                user_type_id=kind.id if kind else None,
                created_at=self.access.clock.now(),
            )
            db_session.add(session)
            now = self.access.clock.now()
            db_session.add(
                Contact(
                    owner_id=caller.id,
                    customer_key=simulated_key(session.id),
                    name=TEST_CUSTOMER_NAME,
                    user_type_id=session.user_type_id,
                    first_seen_at=now,
                    last_seen_at=now,
                    opted_out=False,
                )
            )
        messages = await self._conversation(session).start(ref)
        return await self._turn(session, messages)

    async def say(self, *, caller: Caller, session_id: str, text: str) -> SimulatorTurn:
        """The test customer writes ``text``."""
        session = await self._session(caller, session_id)
        messages = await self._conversation(session).say(text)
        return await self._turn(session, messages)

    async def tap(self, *, caller: Caller, session_id: str, reply_id: str) -> SimulatorTurn:
        """The test customer taps the button or list row ``reply_id`` of the bot's latest
        interactive message (422 when it offers none such)."""
        session = await self._session(caller, session_id)
        async with self.access.db_sessions.begin() as db_session:
            last_menu = await db_session.scalar(
                select(WhatsAppMessage.payload)
                .where(
                    WhatsAppMessage.owner_id == caller.id,
                    WhatsAppMessage.customer_key == simulated_key(session.id),
                    WhatsAppMessage.direction == "out",
                    WhatsAppMessage.type == "interactive",
                )
                .order_by(WhatsAppMessage.id.desc())
                .limit(1)
            )
        payload = reply_payload(last_menu, reply_id)
        messages = await self._conversation(session).send("interactive", payload)
        return await self._turn(session, messages)

    async def look(self, *, caller: Caller, session_id: str) -> SimulatorTurn:
        """Where the session is, with the bot's messages not shown yet (e.g. the answer
        after an ``http`` step, which arrives from a background job)."""
        session = await self._session(caller, session_id)
        return await self._turn(session, await self._conversation(session).collect())

    async def close(self, *, caller: Caller, session_id: str) -> None:
        """End the session and remove its test customer: state, runs, messages, contact."""
        session = await self._session(caller, session_id)
        key = simulated_key(session.id)
        access = self.access
        async with access.db_sessions() as db_session:
            async with access.locks.hold(db_session, owner_id=caller.id, customer_key=key):
                await access.store.delete(db_session, owner_id=caller.id, customer_key=key)
                for model, column in (
                    (WorkflowInstance, WorkflowInstance.user_id),
                    (WhatsAppMessage, WhatsAppMessage.customer_key),
                    (Contact, Contact.customer_key),
                ):
                    await db_session.execute(
                        delete(model).where(model.owner_id == caller.id, column == key)
                    )
                await db_session.execute(
                    delete(SimulatorSession).where(SimulatorSession.id == session.id)
                )
                await access.store.commit(db_session, None)

    async def _session(self, caller: Caller, session_id: str) -> SimulatorSession:
        async with self.access.db_sessions.begin() as db_session:
            session = await db_session.get(SimulatorSession, session_id)
            if session is None or session.owner_id != caller.id:
                raise NotFound(f"simulator session {session_id} does not exist")
            db_session.expunge(session)
            return session

    def _conversation(self, session: SimulatorSession) -> LocalConversation:
        customer = LocalCustomer(
            owner_id=session.owner_id,
            customer_key=simulated_key(session.id),
            channel=SIMULATOR_CHANNEL,
            name=TEST_CUSTOMER_NAME,
        )
        return LocalConversation(self.access, self.processor, customer)

    async def _turn(
        self, session: SimulatorSession, messages: list[OutboundMessage]
    ) -> SimulatorTurn:
        key = simulated_key(session.id)
        async with self.access.db_sessions.begin() as db_session:
            live = await self.access.store.load(
                db_session, owner_id=session.owner_id, customer_key=key, now=self.access.clock.now()
            )
            instance = await db_session.scalar(
                select(WorkflowInstance)
                .where(
                    WorkflowInstance.owner_id == session.owner_id, WorkflowInstance.user_id == key
                )
                .order_by(WorkflowInstance.started_at.desc(), WorkflowInstance.id.desc())
                .limit(1)
            )
            kind = (
                await db_session.get(UserType, session.user_type_id)
                if session.user_type_id
                else None
            )
        return SimulatorTurn(
            session=session,
            user_type=kind.name if kind else None,
            messages=messages,
            step=live.state.current_step if live is not None else None,
            template_name=live.state.template_name if live is not None else None,
            finished=live is None,
            status=instance.status if instance is not None else None,
            visited=[str(step) for step in instance.visited_steps] if instance else [],
        )


async def _user_type(
    db_session: AsyncSession, caller: Caller, reference: str | None
) -> UserType | None:
    """The caller's user type named by id or name (InvalidData when there is none such)."""
    if reference is None:
        return None
    found = await db_session.scalar(
        select(UserType).where(
            UserType.owner_id == caller.id,
            or_(UserType.id == reference, UserType.name == reference),
        )
    )
    if found is None:
        raise InvalidData("user_type", f"you have no user type {reference!r}")
    return found


__all__ = ["TEST_CUSTOMER_NAME", "Simulator", "SimulatorTurn"]
