"""Models shared by every admin router: the error shape, pages, simple acknowledgements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from convoflow.store.paging import PageRequest

ItemT = TypeVar("ItemT")


class ErrorDetail(BaseModel):
    """One thing wrong with the request: where (step and field) and what."""

    step: str = Field(default="", description="The template step, when the problem is in one.")
    field: str = Field(default="", description="The field path, e.g. `state_data.amount`.")
    message: str


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a sentence, and the details."""

    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every error of the admin API has this one shape."""

    error: ErrorBody


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the total number of matches."""

    items: list[ItemT]
    total: int = Field(description="How many items match, on every page together.")
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[ItemT], total: int, page: PageRequest) -> Self:
        """The page ``page`` asked for, holding ``items`` of ``total`` matches."""
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)


class Deleted(BaseModel):
    """What a DELETE did."""

    model_config = ConfigDict(extra="forbid")

    id: str
    action: str = Field(description="`deleted`, `deactivated` or `purged`.")


class Me(BaseModel):
    """The platform user the API key belongs to."""

    id: str
    username: str
