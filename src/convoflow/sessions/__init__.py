"""Conversation-state stores (SQL, Redis) and per-conversation locks."""

from convoflow.sessions.base import ConversationLocks, DueTimer, LiveConversation, SessionStore

__all__ = ["ConversationLocks", "DueTimer", "LiveConversation", "SessionStore"]
