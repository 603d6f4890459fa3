"""The UTC calendar day of a timestamp column, in SQL, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func


def utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """``column``'s day in UTC (a date on PostgreSQL, ``YYYY-MM-DD`` text on SQLite, where
    timestamps are stored as naive UTC); read results with :func:`as_date`."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def as_date(value: Any) -> date:
    """A day as :func:`utc_day` returns it, as a date."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
