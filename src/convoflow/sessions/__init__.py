"""Conversation-state stores (SQL, Redis) and per-conversation locks."""

from convoflow.sessions.base import ConversationLocks, LiveConversation, SessionStore

__all__ = ["ConversationLocks", "LiveConversation", "SessionStore"]
