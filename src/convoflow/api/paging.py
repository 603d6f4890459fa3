"""The ``limit`` and ``offset`` query parameters every list endpoint takes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from convoflow.store.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, PageRequest


def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="How many items at most (1–200).")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many to skip.")] = 0,
) -> PageRequest:
    """The page a list request asks for."""
    return PageRequest(limit=limit, offset=offset)


Paging = Annotated[PageRequest, Depends(page_request)]
