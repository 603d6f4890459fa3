"""Conversation state in Redis: key ``flow_session:{owner}:{customer}``, TTL = session TTL.

Two sorted sets are written in the same MULTI as the state, so they never disagree with it:
``flow_session_expiry`` notes when each conversation expires (the sweeper cancels the
instance of one that Redis let expire), and ``flow_session_timers`` indexes step timers (the
member names the conversation, ``["owner", "customer"]`` as JSON; the score is the due time
in Unix seconds). A timer member whose state expired is dropped when it comes due
(:meth:`RedisSessionStore.forget_timer`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis

from convoflow.engine.outcome import ConversationState as EngineState
from convoflow.sessions.base import DueTimer, LiveConversation

KEY_PREFIX = "flow_session"
#: Sorted set of live conversations by expiry time (member ``owner|customer|instance``), so
#: the sweeper can cancel the instance of a conversation whose key Redis let expire.
EXPIRY_KEY = "flow_session_expiry"
_SEPARATOR = "|"
#: Sorted set of conversations with a step timer by due time (member: ``["owner", "customer"]``
#: as JSON), so the sweeper finds due timers without scanning the states.
TIMERS_KEY = "flow_session_timers"


def session_key(owner_id: str, customer_key: str) -> str:
    """The Redis key of a customer's live conversation."""
    return f"{KEY_PREFIX}:{owner_id}:{customer_key}"


@dataclass(frozen=True, slots=True)
class ExpiredConversation:
    """A conversation whose expiry time passed, as noted in :data:`EXPIRY_KEY`."""

    member: str
    owner_id: str
    customer_key: str
    instance_id: str | None


def _expiry_member(conversation: LiveConversation) -> str:
    return _SEPARATOR.join(
        (conversation.owner_id, conversation.customer_key, conversation.instance_id or "")
    )


def timer_member(owner_id: str, customer_key: str) -> str:
    """A conversation's member in :data:`TIMERS_KEY` (JSON: customer keys may hold ``:``)."""
    return json.dumps([owner_id, customer_key])


def _encode(conversation: LiveConversation) -> str:
    return json.dumps(
        {
            "owner_id": conversation.owner_id,
            "customer": conversation.customer_key,
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
        customer_key=data["customer"],
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

    async def load(
        self, *, owner_id: str, customer_key: str, now: datetime
    ) -> LiveConversation | None:
        """The live conversation; Redis drops it at expiry, the check covers clock skew."""
        raw = await self._redis.get(session_key(owner_id, customer_key))
        if raw is None:
            return None
        conversation = _decode(raw)
        return conversation if conversation.expires_at > now else None

    async def save(self, conversation: LiveConversation) -> None:
        """Write with a TTL ending at ``expires_at``; note when it expires and index its timer
        in the same MULTI."""
        ttl_ms = int(
            (conversation.expires_at - conversation.last_interaction).total_seconds() * 1000
        )
        member = timer_member(conversation.owner_id, conversation.customer_key)
        timer = conversation.state.timer
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(
                session_key(conversation.owner_id, conversation.customer_key),
                _encode(conversation),
                px=max(ttl_ms, 1),
            )
            pipe.zadd(
                EXPIRY_KEY, {_expiry_member(conversation): conversation.expires_at.timestamp()}
            )
            if timer is None:
                pipe.zrem(TIMERS_KEY, member)
            else:
                pipe.zadd(TIMERS_KEY, {member: timer.due_at.timestamp()})
            await pipe.execute()

    async def delete(self, *, owner_id: str, customer_key: str) -> bool:
        """Remove the key and its timer (an ended conversation has nothing left to expire)."""
        key = session_key(owner_id, customer_key)
        raw = await self._redis.get(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.zrem(TIMERS_KEY, timer_member(owner_id, customer_key))
            if raw is not None:
                pipe.zrem(EXPIRY_KEY, _expiry_member(_decode(raw)))
            deleted, *_ = await pipe.execute()
        return bool(deleted)

    async def expired(self, now: datetime, *, limit: int = 500) -> list[ExpiredConversation]:
        """Conversations whose expiry time has passed at ``now`` (oldest first)."""
        members = await self._redis.zrangebyscore(
            EXPIRY_KEY, "-inf", now.timestamp(), start=0, num=limit
        )
        found = []
        for member in members:
            text = member.decode() if isinstance(member, bytes) else str(member)
            owner_id, customer_key, instance_id = text.split(_SEPARATOR, 2)
            found.append(ExpiredConversation(text, owner_id, customer_key, instance_id or None))
        return found

    async def forget_expired(self, conversations: list[ExpiredConversation]) -> int:
        """Drop what :meth:`expired` returned (and any key Redis has not removed yet)."""
        if not conversations:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(EXPIRY_KEY, *[c.member for c in conversations])
            await pipe.execute()
        for conversation in conversations:
            key = session_key(conversation.owner_id, conversation.customer_key)
            raw = await self._redis.get(key)
            # A key renewed for a later run of the same customer is someone else's now.
            if raw is not None and _expiry_member(_decode(raw)) == conversation.member:
                await self._redis.delete(key)
        return len(conversations)

    async def list_live(self, *, owner_id: str, now: datetime) -> list[LiveConversation]:
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

    async def due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        """Members of the timer index due at ``now``, the longest overdue first."""
        due = await self._redis.zrangebyscore(
            TIMERS_KEY, "-inf", now.timestamp(), start=0, num=limit, withscores=True
        )
        timers = []
        for item in due:
            member, score = cast(tuple[bytes, float], item)  # withscores: (member, score)
            owner_id, customer_key = json.loads(member)
            timers.append(DueTimer(owner_id, customer_key, datetime.fromtimestamp(score, UTC)))
        return timers

    async def forget_timer(self, *, owner_id: str, customer_key: str) -> None:
        """Drop the conversation from the timer index (its state expired or was removed)."""
        await self._redis.zrem(TIMERS_KEY, timer_member(owner_id, customer_key))
