"""Errors of the admin use cases, next to the data-layer ones (:mod:`convoflow.store.errors`).

::

    StoreError
    ├── NotFound            404: no such object, or another owner's private one
    ├── Conflict            409: duplicate name, object in use, illegal status change
    ├── InvalidData         422: one field outside what the data model allows
    ├── Forbidden           403: visible but not yours, or a customer not permitted
    ├── Unauthenticated     401: no API key, or an unknown or revoked one
    └── InvalidStateData    422: state_data that does not fit the template's state_schema
"""

from __future__ import annotations

from collections.abc import Mapping

from convoflow.store.errors import StoreError


class Forbidden(StoreError):
    """The caller may see the object but not do this with it (HTTP 403)."""


class Unauthenticated(StoreError):
    """No API key, or one that is unknown or revoked (HTTP 401)."""


class InvalidStateData(StoreError):
    """``state_data`` values that do not fit the template's ``state_schema``, by field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        names = ", ".join(sorted(self.errors))
        super().__init__(f"state_data does not fit the template's state_schema: {names}")
