"""convoflow: a self-hosted WhatsApp conversation-workflow engine."""

__version__ = "0.1.0"
