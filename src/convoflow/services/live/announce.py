"""Events noted during a transaction, published once it commits.

The runtime attaches the process's publisher to its session factory
(:func:`attach_publisher`); :func:`announce` notes an event on a session; an
``after_commit`` hook hands the transaction's events to the publisher in one call, and a
rollback forgets them. A session from a factory without a publisher notes nothing.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from convoflow.services.live.events import LiveEvent, LiveEvents

_PUBLISHER = "convoflow.live_publisher"
_NOTED = "convoflow.live_events"


def attach_publisher(db_sessions: async_sessionmaker[AsyncSession], publisher: LiveEvents) -> None:
    """Sessions made by ``db_sessions`` from now on publish their events through
    ``publisher`` after they commit."""
    info = dict(db_sessions.kw.get("info") or {})
    info[_PUBLISHER] = publisher
    db_sessions.configure(info=info)


def publisher_of(db_sessions: async_sessionmaker[AsyncSession]) -> LiveEvents | None:
    """The publisher attached to ``db_sessions`` (for writers that use no session)."""
    info = db_sessions.kw.get("info") or {}
    publisher: LiveEvents | None = info.get(_PUBLISHER)
    return publisher


def announce(db_session: AsyncSession | Session, *events: LiveEvent) -> None:
    """Publish ``events`` when the session's transaction commits."""
    if _PUBLISHER not in db_session.info:
        return
    noted: list[LiveEvent] = db_session.info.setdefault(_NOTED, [])
    noted.extend(events)


@event.listens_for(Session, "after_commit")
def _publish_noted(db_session: Session) -> None:
    noted: list[LiveEvent] | None = db_session.info.pop(_NOTED, None)
    publisher: LiveEvents | None = db_session.info.get(_PUBLISHER)
    if noted and publisher is not None:
        try:
            publisher.publish(noted)
        except Exception:  # never fail a committed unit of work for a live update
            return


@event.listens_for(Session, "after_rollback")
def _forget_noted(db_session: Session) -> None:
    db_session.info.pop(_NOTED, None)
