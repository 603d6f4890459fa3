"""One page of a list: which slice to read, and reading it with the total number of matches.

Every list of the admin API is paged the same way (``limit``, ``offset``; the answer says
``total``), so the bounds live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple

from sqlalchemy import Result, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import InvalidArgument

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000

ItemT = TypeVar("ItemT")
ColumnsT = TypeVarTuple("ColumnsT")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which slice of a list to read: at most ``limit`` items after skipping ``offset``."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT or not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidArgument(f"limit must be 1..{MAX_LIMIT} and offset 0..{MAX_OFFSET}")


async def read_page(
    db_session: AsyncSession, query: Select[*ColumnsT], page: PageRequest
) -> tuple[Result[*ColumnsT], int]:
    """The rows of one page of an ordered ``query``, and how many rows match in all."""
    total = await db_session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    rows = await db_session.execute(query.limit(page.limit).offset(page.offset))
    return rows, int(total or 0)


def slice_page(items: Sequence[ItemT], page: PageRequest) -> tuple[list[ItemT], int]:
    """One page of a list already in memory, and its length."""
    return list(items[page.offset : page.offset + page.limit]), len(items)
