"""Conversation state in Redis: key ``flow_session:{owner}:{customer}``, TTL = session TTL.

Step timers are indexed in one sorted set, ``flow_session_timers``: the member names the
conversation (``["owner", "customer"]`` as JSON), the score is the due time (Unix seconds).
It is written in the same MULTI as the state, so the two never disagree; a member whose
state expired is dropped when it comes due (:meth:`RedisSessionStore.forget_timer`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.engine.outcome import ConversationState as EngineState
from convoflow.sessions.base import DueTimer, LiveConversation

KEY_PREFIX = "flow_session"
TIMERS_KEY = "flow_session_timers"


def session_key(owner_id: str, customer: str) -> str:
    """The Redis key of a customer's live conversation."""
    return f"{KEY_PREFIX}:{owner_id}:{customer}"


def timer_member(owner_id: str, customer: str) -> str:
    """A conversation's member in :data:`TIMERS_KEY` (JSON: customer keys may hold ``:``)."""
    return json.dumps([owner_id, customer])


def _encode(conversation: LiveConversation) -> str:
    return json.dumps(
        {
            "owner_id": conversation.owner_id,
            "customer": conversation.customer,
            "template_id": conversation.template_id,
            "instance_id": conversation.instance_id,
            "state": conversation.state.to_json(),
            "expires_at": conversation.expires_at.isoformat(),
            "created_at": conversation.created_at.isoformat(),
            "last_interaction": conversation.last_interaction.isoformat(),
        }
    )


def _decode(raw: bytes | str) -> LiveConversation:
    data: dict[str, Any] = json.loads(raw)
    return LiveConversation(
        owner_id=data["owner_id"],
        customer=data["customer"],
        template_id=data["template_id"],
        instance_id=data["instance_id"],
        state=EngineState.from_json(data["state"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        last_interaction=datetime.fromisoformat(data["last_interaction"]),
    )


class RedisSessionStore:
    """Live conversations as JSON strings that Redis expires by itself."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @property
    def transactional(self) -> bool:
        """Redis is outside the database transaction: saved after the commit."""
        return False

    async def load(
        self, session: AsyncSession, *, owner_id: str, customer: str, now: datetime
    ) -> LiveConversation | None:
        """The live conversation; Redis drops it at expiry, the check covers clock skew."""
        raw = await self._redis.get(session_key(owner_id, customer))
        if raw is None:
            return None
        conversation = _decode(raw)
        return conversation if conversation.expires_at > now else None

    async def save(self, session: AsyncSession, conversation: LiveConversation) -> None:
        """Write with a TTL ending at ``expires_at``; index its timer in the same MULTI."""
        ttl_ms = int(
            (conversation.expires_at - conversation.last_interaction).total_seconds() * 1000
        )
        member = timer_member(conversation.owner_id, conversation.customer)
        timer = conversation.state.timer
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(
                session_key(conversation.owner_id, conversation.customer),
                _encode(conversation),
                px=max(ttl_ms, 1),
            )
            if timer is None:
                pipe.zrem(TIMERS_KEY, member)
            else:
                pipe.zadd(TIMERS_KEY, {member: timer.due_at.timestamp()})
            await pipe.execute()

    async def delete(self, session: AsyncSession, *, owner_id: str, customer: str) -> bool:
        """Remove the key and its timer."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(session_key(owner_id, customer))
            pipe.zrem(TIMERS_KEY, timer_member(owner_id, customer))
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def list_live(
        self, session: AsyncSession, *, owner_id: str, now: datetime
    ) -> list[LiveConversation]:
        """Scan the owner's keys (SCAN, never KEYS), newest first."""
        found: list[LiveConversation] = []
        async for key in self._redis.scan_iter(match=f"{KEY_PREFIX}:{owner_id}:*", count=500):
            raw = await self._redis.get(key)
            if raw is not None:
                conversation = _decode(raw)
                if conversation.expires_at > now:
                    found.append(conversation)
        found.sort(key=lambda conversation: conversation.created_at, reverse=True)
        return found

    async def due_timers(
        self, session: AsyncSession, *, now: datetime, limit: int
    ) -> list[DueTimer]:
        """Members of the timer index due at ``now``, the longest overdue first."""
        due = await self._redis.zrangebyscore(
            TIMERS_KEY, "-inf", now.timestamp(), start=0, num=limit, withscores=True
        )
        timers = []
        for item in due:
            member, score = cast(tuple[bytes, float], item)  # withscores: (member, score)
            owner_id, customer = json.loads(member)
            timers.append(DueTimer(owner_id, customer, datetime.fromtimestamp(score, UTC)))
        return timers

    async def forget_timer(self, session: AsyncSession, *, owner_id: str, customer: str) -> None:
        """Drop the conversation from the timer index (its state expired or was removed)."""
        await self._redis.zrem(TIMERS_KEY, timer_member(owner_id, customer))
