"""Errors raised by the repositories; each message is one clear sentence for the user."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the data-layer errors."""


class NotFound(StoreError):
    """The object does not exist (or belongs to another owner)."""


class Conflict(StoreError):
    """The change clashes with existing data (duplicate name, object in use)."""


class InvalidData(StoreError):
    """A value is outside what the data model allows."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
