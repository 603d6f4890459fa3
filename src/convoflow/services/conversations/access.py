"""What a use case needs to act on live conversations, handed out by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.services.conversations.service import ConversationService
from convoflow.services.ports import BackgroundWork, EffectsNow
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.sessions.base import ConversationLocks
from convoflow.sessions.states import ConversationStates


@dataclass(frozen=True, slots=True)
class ConversationAccess:
    """Database sessions, the conversation lock and state store, the conversation service,
    the template catalog, background kicks, the clock and, for the local channels, a way
    to run effects at once (``effects_now``: without it their effects wait for the jobs).

    There is no default number to reply from: a customer is written to only from one of
    their owner's own numbers.
    """

    db_sessions: async_sessionmaker[AsyncSession]
    locks: ConversationLocks
    store: ConversationStates
    catalog: TemplateCatalog
    conversations: ConversationService
    background: BackgroundWork
    clock: Clock = field(default_factory=SystemClock)
    effects_now: EffectsNow | None = None
