"""The composition root: everything one process shares, built from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from convoflow.channels.whatsapp.inbound_events import event_for_message
from convoflow.engine.events import Event
from convoflow.services.catalog import TemplateCatalog
from convoflow.services.conversations import ConversationService
from convoflow.services.intake import MessageProcessor
from convoflow.sessions.base import ConversationLocks, SessionStore
from convoflow.sessions.locks import InProcessLocks, PostgresAdvisoryLocks, RedisLocks
from convoflow.sessions.redis_store import RedisSessionStore
from convoflow.sessions.sql_store import SqlSessionStore
from convoflow.settings import Settings
from convoflow.store.database import create_engine, create_session_factory


def decode_stored_message(message_type: str, payload: dict[str, Any]) -> Event | None:
    """The engine event of a stored inbound message (WhatsApp message object shape)."""
    return event_for_message(payload, message_type, lambda _problem: None)


@dataclass(slots=True)
class Runtime:
    """Built once at start-up, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None
    catalog: TemplateCatalog
    store: SessionStore
    locks: ConversationLocks
    conversations: ConversationService
    processor: MessageProcessor

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Wire the database, Redis (when configured), session store, locks and services."""
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        store: SessionStore
        locks: ConversationLocks
        if settings.session_store == "redis" and redis is not None:
            # State lives in Redis and is saved after the database commit, so the lock
            # must outlive the commit: a Redis lock, not a transaction-scoped one.
            store, locks = RedisSessionStore(redis), RedisLocks(redis)
        elif settings.is_postgres:
            store, locks = SqlSessionStore(), PostgresAdvisoryLocks()
        else:
            store, locks = SqlSessionStore(), InProcessLocks()
        catalog = TemplateCatalog()
        conversations = ConversationService(
            catalog=catalog, store=store, default_ttl_seconds=settings.session_ttl_seconds
        )
        processor = MessageProcessor(
            sessions=sessions,
            locks=locks,
            conversations=conversations,
            decode_event=decode_stored_message,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            catalog=catalog,
            store=store,
            locks=locks,
            conversations=conversations,
            processor=processor,
        )

    async def close(self) -> None:
        """Release connections."""
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
