"""Rating templates through the admin API: one rating per user and template.

A template is rated as a whole (its family of versions), like every other statistic: any
version id names it, and a new version keeps its ratings. Rating again replaces the
earlier rating; the template's average and count are recomputed from the ratings in the
same transaction, so they stay exact when ratings are replaced or arrive at once.
"""

from __future__ import annotations

__all__ = ["RatedTemplate", "rate_template"]

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.access.callers import Caller, visible_template
from convoflow.store import ratings


@dataclass(frozen=True, slots=True)
class RatedTemplate:
    """A template after a rating: its latest version, average and count, the caller's rating."""

    template_id: str
    rating: float
    rating_count: int
    your_rating: int


async def rate_template(
    db_session: AsyncSession,
    *,
    caller: Caller,
    template_id: str,
    rating: int,
    now: datetime,
) -> RatedTemplate:
    """Set the caller's rating (1–5) of a visible template, replacing an earlier one."""
    ratings.check_rating(rating)
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        # The rating is written before the latest version is locked: on SQLite this first
        # write takes the database's write lock, so the version found next stays the latest.
        await ratings.save_rating(
            db_session,
            family_id=row.family_id,
            user_id=caller.id,
            rating=rating,
            now=now,
        )
        latest = await ratings.lock_latest_version(db_session, row.family_id)
        summary = await ratings.refresh_template_rating(db_session, latest)
    return RatedTemplate(
        template_id=latest.id,
        rating=summary.average,
        rating_count=summary.count,
        your_rating=rating,
    )
