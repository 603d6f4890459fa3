"""Settling an effect row once: only the run that still holds the claim may."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, update
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.workflows.effect_types import EffectRun, FinishedEffect
from convoflow.store.models import WorkflowEffect


def still_claimed(effect: FinishedEffect) -> ColumnElement[bool]:
    """The row is still ``running`` under this run's claim (its ``attempts`` token).

    Every write a runner makes after its claim carries this condition, so a runner whose
    lease expired (and whose row another runner took over) changes nothing.
    """
    return and_(
        WorkflowEffect.id == effect.id,
        WorkflowEffect.status == "running",
        WorkflowEffect.attempts == effect.attempts,
    )


async def settle_effect(
    db_session: AsyncSession, effect: FinishedEffect, run: EffectRun, *, now: datetime
) -> bool:
    """Mark the row done or failed if this run still holds it; False: someone else did."""
    result = await db_session.execute(
        update(WorkflowEffect)
        .where(still_claimed(effect))
        .values(
            status="done" if run.ok else "failed",
            result=run.summary(),
            error=run.error or None,
            next_attempt_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1
