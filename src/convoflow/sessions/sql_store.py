"""Conversation state in the ``conversation_state`` table (the default).

The state's timer is also written to ``timer_id``/``timer_due_at`` in the same row, so due
timers are one indexed query away.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from convoflow.engine.outcome import ConversationState as EngineState
from convoflow.sessions.base import DueTimer, LiveConversation
from convoflow.store.models import ConversationStateRow as StateRow

#: Rows read by ``load`` in a session (None: no row), so ``save`` needs no second query.
_LOADED_KEY = "convoflow.loaded_states"
#: Rows read ahead by ``preload`` for a batch, each taken by the first ``load`` of its key.
_PRELOADED_KEY = "convoflow.preloaded_states"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_loaded(db_session: Session) -> None:
    """Rows read in one transaction are not trusted in the next (another process may have
    changed or removed them meanwhile)."""
    db_session.info.pop(_LOADED_KEY, None)
    db_session.info.pop(_PRELOADED_KEY, None)


def _to_live(row: StateRow) -> LiveConversation:
    return LiveConversation(
        owner_id=row.owner_id,
        customer_key=row.phone_number,
        template_id=row.template_id,
        instance_id=row.instance_id,
        state=EngineState.from_json(row.context),
        expires_at=row.expires_at,
        created_at=row.created_at,
        last_interaction=row.last_interaction,
    )


class SqlSessionStore:
    """Stores each live conversation as one ``conversation_state`` row."""

    async def preload(
        self, db_session: AsyncSession, customers: list[tuple[str, str]]
    ) -> list[str]:
        """Read the rows of ``customers`` in one query for this transaction (the caller
        holds their locks); returns the instance ids they name."""
        owners = sorted({owner for owner, _ in customers})
        keys = sorted({key for _, key in customers})
        rows = (
            await db_session.execute(
                select(StateRow).where(
                    StateRow.owner_id.in_(owners), StateRow.phone_number.in_(keys)
                )
            )
        ).scalars()
        found = {(row.owner_id, row.phone_number): row for row in rows}
        preloaded: dict[tuple[str, str], StateRow | None] = db_session.info.setdefault(
            _PRELOADED_KEY, {}
        )
        for customer in customers:
            preloaded[customer] = found.get(customer)
        return [row.instance_id for row in found.values() if row.instance_id]

    async def load(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str, now: datetime
    ) -> LiveConversation | None:
        """The live row; an expired one is ignored here and removed by the sweeper."""
        preloaded: dict[tuple[str, str], StateRow | None] = db_session.info.get(_PRELOADED_KEY, {})
        if (owner_id, customer_key) in preloaded:
            row = preloaded.pop((owner_id, customer_key))
        else:
            row = (
                await db_session.execute(
                    select(StateRow).where(
                        StateRow.owner_id == owner_id, StateRow.phone_number == customer_key
                    )
                )
            ).scalar_one_or_none()
        db_session.info.setdefault(_LOADED_KEY, {})[(owner_id, customer_key)] = row
        if row is None or row.expires_at <= now:
            return None
        return _to_live(row)

    async def save(
        self, db_session: AsyncSession, conversation: LiveConversation, *, flush: bool = True
    ) -> None:
        """Insert or update the customer's row (the caller holds the conversation lock)."""
        key = (conversation.owner_id, conversation.customer_key)
        loaded: dict[tuple[str, str], StateRow | None] = db_session.info.get(_LOADED_KEY, {})
        if key in loaded:
            row = loaded[key]  # read by load() in this session: no second query
        else:
            row = (
                await db_session.execute(
                    select(StateRow).where(
                        StateRow.owner_id == conversation.owner_id,
                        StateRow.phone_number == conversation.customer_key,
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            row = StateRow(owner_id=conversation.owner_id, phone_number=conversation.customer_key)
            db_session.add(row)
            db_session.info.setdefault(_LOADED_KEY, {})[key] = row
            row.created_at = conversation.created_at
        elif (
            row.template_id != conversation.template_id or row.expires_at <= conversation.created_at
        ):
            # A new conversation replaces an old or expired one: it starts its own clock.
            row.created_at = conversation.created_at
        row.conversation_flow = conversation.state.template_name
        row.current_step = conversation.state.current_step
        row.context = conversation.state.to_json()
        row.template_id = conversation.template_id
        row.instance_id = conversation.instance_id
        row.last_interaction = conversation.last_interaction
        row.expires_at = conversation.expires_at
        timer = conversation.state.timer
        row.timer_id = timer.id if timer is not None else None
        row.timer_due_at = timer.due_at if timer is not None else None
        if flush:
            await db_session.flush()

    async def delete(self, db_session: AsyncSession, *, owner_id: str, customer_key: str) -> bool:
        """Remove the customer's row."""
        loaded = db_session.info.get(_LOADED_KEY, {}).pop((owner_id, customer_key), None)
        if loaded is not None:
            # Read in this session: deleted with the next flush, in one statement with the
            # batch's other ends, instead of a statement per turn.
            await db_session.delete(loaded)
            return True
        result = await db_session.execute(
            delete(StateRow).where(
                StateRow.owner_id == owner_id, StateRow.phone_number == customer_key
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def list_live(
        self, db_session: AsyncSession, *, owner_id: str, now: datetime
    ) -> list[LiveConversation]:
        """Unexpired rows of an owner, newest first."""
        rows = (
            await db_session.execute(
                select(StateRow)
                .where(StateRow.owner_id == owner_id, StateRow.expires_at > now)
                .order_by(StateRow.created_at.desc())
            )
        ).scalars()
        return [_to_live(row) for row in rows]

    async def due_timers(
        self, db_session: AsyncSession, *, now: datetime, limit: int
    ) -> list[DueTimer]:
        """Unexpired rows whose timer is due, the longest overdue first."""
        rows = await db_session.execute(
            select(
                StateRow.owner_id, StateRow.phone_number, StateRow.timer_due_at, StateRow.timer_id
            )
            .where(StateRow.timer_due_at <= now, StateRow.expires_at > now)
            .order_by(StateRow.timer_due_at)
            .limit(limit)
        )
        return [
            DueTimer(row.owner_id, row.phone_number, row.timer_due_at, row.timer_id)
            for row in rows
            if row.timer_due_at is not None
        ]

    async def forget_timer(
        self, db_session: AsyncSession, *, owner_id: str, customer_key: str
    ) -> None:
        """Nothing to do: an expired row (and its timer) is deleted by the sweeper."""
