"""Template ratings: one per platform user and template (family of versions).

A template's ``rating`` and ``rating_count`` are computed from these rows (and from the
anonymous ratings given before there was one per user), never counted up on their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base, created_at_column, ulid_pk, updated_at_column


class TemplateRating(Base):
    """A user's rating (1–5) of a template; rating again replaces it.

    Ratings belong to the template family (``family_id``, the id of version 1), like every
    other template statistic, so a new version keeps them.
    """

    __tablename__ = "template_ratings"
    __table_args__ = (
        UniqueConstraint("family_id", "user_id"),
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
    )

    id: Mapped[str] = ulid_pk()
    family_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class LegacyTemplateRating(Base):
    """The ratings a template got before one per user: no raters known, so a sum and a count.

    Written once by the migration that introduced :class:`TemplateRating`; the average of a
    template includes them so that upgrading loses no rating.
    """

    __tablename__ = "legacy_template_ratings"
    __table_args__ = (CheckConstraint("rating_count > 0", name="rating_count_positive"),)

    family_id: Mapped[str] = mapped_column(
        String(26),
        ForeignKey("workflow_templates.id", ondelete="CASCADE"),
        primary_key=True,
    )
    rating_sum: Mapped[int] = mapped_column(Integer, nullable=False)
    rating_count: Mapped[int] = mapped_column(Integer, nullable=False)
