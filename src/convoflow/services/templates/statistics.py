"""Template statistics: use, completion, response time and the step funnel.

The counters kept on the template (usage, success rate, average first-reply time, rating)
are read from its latest version; runs by status and the funnel are computed from the
``workflow_instances`` of every version. The funnel says, per step, how many runs reached
it, how many of those went on to complete, how many stopped there (failed or cancelled)
and how many are still there now. The owner sees every run; anyone else who may see a
public template sees the runs of their own instances only. Runs of the builder's simulator
are never counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.services.access.callers import Caller, latest_of_family, visible_template
from convoflow.services.ai.accounting import LlmStats, llm_statistics
from convoflow.store.local_channels import real_customer
from convoflow.store.models import WorkflowInstance, WorkflowTemplate

LIVE = frozenset({"active", "waiting"})
STOPPED = frozenset({"failed", "cancelled"})


@dataclass(slots=True)
class FunnelStep:
    """One step of the funnel."""

    step: str
    reached: int = 0
    completed: int = 0
    dropped_off: int = 0
    in_progress: int = 0


@dataclass(slots=True)
class TemplateStats:
    """The statistics of one template (all its versions)."""

    template: WorkflowTemplate
    runs_by_status: Counter[str] = field(default_factory=Counter)
    runs_by_version: Counter[int] = field(default_factory=Counter)
    funnel: list[FunnelStep] = field(default_factory=list)
    last_run_at: datetime | None = None
    llm: LlmStats = field(default_factory=LlmStats)

    @property
    def runs(self) -> int:
        """How many instances ran (any status)."""
        return sum(self.runs_by_status.values())

    @property
    def completion_rate(self) -> float:
        """Completed runs over all runs (0 when there are none)."""
        return self.runs_by_status["completed"] / self.runs if self.runs else 0.0


def _step_order(graph: dict[str, Any]) -> list[str]:
    steps = graph.get("steps") if isinstance(graph, dict) else None
    return [str(step["id"]) for step in steps or [] if isinstance(step, dict) and "id" in step]


def build_funnel(
    order: list[str], runs: list[tuple[str, list[Any], str | None]]
) -> list[FunnelStep]:
    """The funnel of ``runs`` (status, visited steps, current step), graph steps first."""
    by_step: dict[str, FunnelStep] = {name: FunnelStep(name) for name in order}
    for status, visited, current in runs:
        path = [str(name) for name in visited]
        for name in dict.fromkeys(path):
            entry = by_step.setdefault(name, FunnelStep(name))
            entry.reached += 1
            if status == "completed":
                entry.completed += 1
        where = current or (path[-1] if path else None)
        if where is None:
            continue
        entry = by_step.setdefault(where, FunnelStep(where))
        if status in STOPPED:
            entry.dropped_off += 1
        elif status in LIVE:
            entry.in_progress += 1
    return list(by_step.values())


async def template_stats(
    db_session: AsyncSession, *, caller: Caller, template_id: str, now: datetime
) -> TemplateStats:
    """Statistics of a template the caller may see (any version id names the template)."""
    async with db_session.begin():
        row = await visible_template(db_session, caller, template_id)
        latest = row if row.is_latest else await latest_of_family(db_session, row.family_id)
        query = (
            select(
                WorkflowInstance.status,
                WorkflowInstance.visited_steps,
                WorkflowInstance.current_step,
                WorkflowTemplate.version,
                WorkflowInstance.started_at,
            )
            .join(WorkflowTemplate, WorkflowTemplate.id == WorkflowInstance.template_id)
            .where(
                WorkflowTemplate.family_id == latest.family_id,
                real_customer(WorkflowInstance.user_id),
            )
        )
        if latest.owner_id != caller.id:
            query = query.where(WorkflowInstance.owner_id == caller.id)
        rows = (await db_session.execute(query)).tuples().all()
        llm = await llm_statistics(
            db_session,
            latest.family_id,
            now=now,
            owner_id=None if latest.owner_id == caller.id else caller.id,
        )
    stats = TemplateStats(template=latest, llm=llm)
    funnel_runs: list[tuple[str, list[Any], str | None]] = []
    for status, visited, current, version, started_at in rows:
        stats.runs_by_status[status] += 1
        stats.runs_by_version[version] += 1
        if visited:
            funnel_runs.append((status, list(visited), current))
        if stats.last_run_at is None or started_at > stats.last_run_at:
            stats.last_run_at = started_at
    stats.funnel = build_funnel(_step_order(latest.menu_structure), funnel_runs)
    return stats
