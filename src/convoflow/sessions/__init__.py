"""Conversation-state stores (SQL, Redis) behind one contract, and per-conversation locks."""

from convoflow.sessions.base import ConversationLocks, LiveConversation

__all__ = ["ConversationLocks", "LiveConversation"]
