"""Conversation state in Redis: key ``flow_session:{owner}:{customer}``, TTL = session TTL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from convoflow.engine.outcome import ConversationState as EngineState
from convoflow.sessions.base import LiveConversation

KEY_PREFIX = "flow_session"


def session_key(owner_id: str, customer: str) -> str:
    """The Redis key of a customer's live conversation."""
    return f"{KEY_PREFIX}:{owner_id}:{customer}"


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

    async def load(self, *, owner_id: str, customer: str, now: datetime) -> LiveConversation | None:
        """The live conversation; Redis drops it at expiry, the check covers clock skew."""
        raw = await self._redis.get(session_key(owner_id, customer))
        if raw is None:
            return None
        conversation = _decode(raw)
        return conversation if conversation.expires_at > now else None

    async def save(self, conversation: LiveConversation) -> None:
        """Write with a TTL ending at ``expires_at``."""
        ttl_ms = int(
            (conversation.expires_at - conversation.last_interaction).total_seconds() * 1000
        )
        await self._redis.set(
            session_key(conversation.owner_id, conversation.customer),
            _encode(conversation),
            px=max(ttl_ms, 1),
        )

    async def delete(self, *, owner_id: str, customer: str) -> bool:
        """Remove the key."""
        return bool(await self._redis.delete(session_key(owner_id, customer)))

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
