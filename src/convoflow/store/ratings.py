"""Template ratings: one per user and template family, and the average computed from them.

The average and count on the template's latest version are recomputed from the rating rows
in the transaction that changes a rating, so they are exact however ratings are replaced.
Two ratings of one template are serialised on the row lock of its latest version, taken
*before* the rows are read: every rater then counts the ratings committed before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import InvalidData, NotFound
from convoflow.store.models import LegacyTemplateRating, TemplateRating, WorkflowTemplate
from convoflow.store.types import new_id
from convoflow.store.upsert import insert_for

LOWEST_RATING = 1
HIGHEST_RATING = 5
#: A template can get a new version between finding its latest row and locking it; the
#: lookup is repeated this often before the family is taken to be gone.
LATEST_LOOKUP_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """The average of a template's ratings (0 when there are none) and how many there are."""

    average: float
    count: int


def check_rating(rating: object) -> int:
    """``rating`` if it is a whole number from 1 to 5; :class:`InvalidData` otherwise."""
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise InvalidData("rating", "must be a whole number from 1 to 5")
    if not LOWEST_RATING <= rating <= HIGHEST_RATING:
        raise InvalidData("rating", "must be a whole number from 1 to 5")
    return rating


async def save_rating(
    db_session: AsyncSession, *, family_id: str, user_id: str, rating: int, now: datetime
) -> None:
    """Store the user's rating of a template family, replacing their earlier one."""
    check_rating(rating)
    insert = insert_for(db_session, TemplateRating).values(
        id=new_id(),
        family_id=family_id,
        user_id=user_id,
        rating=rating,
        created_at=now,
        updated_at=now,
    )
    await db_session.execute(
        insert.on_conflict_do_update(
            index_elements=[TemplateRating.family_id, TemplateRating.user_id],
            set_={"rating": insert.excluded.rating, "updated_at": insert.excluded.updated_at},
        )
    )


async def lock_latest_version(db_session: AsyncSession, family_id: str) -> WorkflowTemplate:
    """The latest version of a family, locked until the end of the transaction.

    The lock is ``FOR NO KEY UPDATE``: it does not wait for the key-share locks that
    inserting a rating takes on the family's first version (a foreign key), so raters do
    not deadlock each other; it does wait for a concurrent rating or new version.
    """
    query = (
        select(WorkflowTemplate)
        .where(WorkflowTemplate.family_id == family_id, WorkflowTemplate.is_latest.is_(True))
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    for _ in range(LATEST_LOOKUP_ATTEMPTS):
        # On PostgreSQL a row that stopped being the latest while we waited for its lock is
        # skipped; the next statement sees the version that replaced it.
        row = (await db_session.execute(query)).scalar_one_or_none()
        if row is not None:
            return row
    raise NotFound(f"template {family_id} does not exist")


async def summarise_ratings(db_session: AsyncSession, family_id: str) -> RatingSummary:
    """The exact average and count of a family's ratings, earlier anonymous ones included."""
    count, total = (
        await db_session.execute(
            select(
                func.count(TemplateRating.id), func.coalesce(func.sum(TemplateRating.rating), 0)
            ).where(TemplateRating.family_id == family_id)
        )
    ).one()
    legacy = (
        await db_session.execute(
            select(LegacyTemplateRating.rating_sum, LegacyTemplateRating.rating_count).where(
                LegacyTemplateRating.family_id == family_id
            )
        )
    ).one_or_none()
    if legacy is not None:
        total += legacy.rating_sum
        count += legacy.rating_count
    return RatingSummary(average=total / count if count else 0.0, count=int(count))


async def refresh_template_rating(
    db_session: AsyncSession, template: WorkflowTemplate
) -> RatingSummary:
    """Write the family's average and count on ``template`` (its locked latest version)."""
    summary = await summarise_ratings(db_session, template.family_id)
    template.rating = summary.average
    template.rating_count = summary.count
    await db_session.flush()
    return summary
