"""Conversation-state stores (SQL, Redis) behind one contract, and per-conversation locks."""

from convoflow.sessions.base import ConversationLocks, DueTimer, LiveConversation

__all__ = ["ConversationLocks", "DueTimer", "LiveConversation"]
