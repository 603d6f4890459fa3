"""Daily counters of the message path, written by the statistics aggregator.

Counted per owner (whose customers ran it): built-in and public templates are run by many
owners, and each sees only their own runs.

Each row is a sum: the aggregator adds to it with one ``INSERT ... ON CONFLICT DO UPDATE``
per table and flush, so concurrent flushes from several processes all count.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from convoflow.store.models.base import Base


class StepVisitCount(Base):
    """How often an owner's runs of a template version entered a step on a day (UTC)."""

    __tablename__ = "step_visit_counts"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class StepEdgeCount(Base):
    """How often an owner's runs of a template version went from one step to the next on
    a day."""

    __tablename__ = "step_edge_counts"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), primary_key=True
    )
    from_step: Mapped[str] = mapped_column(String(200), primary_key=True)
    to_step: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class TemplateDayCount(Base):
    """An owner's runs of a template version started on a day and their first-reply times
    (for the average response time)."""

    __tablename__ = "template_day_counts"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_templates.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    timed_starts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    response_ms_total: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
