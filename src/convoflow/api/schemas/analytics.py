"""The analytics report of a template (``GET /api/analytics/templates/{id}``)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from convoflow.services.analytics.report import TemplateAnalytics


class RunsOut(BaseModel):
    """Runs started in the range, by their status now."""

    started: int
    completed: int
    failed: int
    cancelled: int


class DayOut(BaseModel):
    """Runs started on one day and how many of them completed."""

    day: date
    started: int
    completed: int
    rate: float = Field(description="completed / started (0 when none started).")


class StepVisitsOut(BaseModel):
    """How often runs entered a step."""

    step: str
    visits: int


class EdgeOut(BaseModel):
    """How often runs went from one step to the next."""

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    count: int

    model_config = {"populate_by_name": True}


class FunnelOut(BaseModel):
    """Visits per step (graph order first) and moves per edge (most taken first)."""

    steps: list[StepVisitsOut]
    edges: list[EdgeOut]


class ErrorCountOut(BaseModel):
    """How many failed messages had this error code (None: no code)."""

    code: int | None
    count: int


class MessagesOut(BaseModel):
    """Outbound messages by how far they got; each count includes the later ticks."""

    sent: int
    delivered: int
    read: int
    failed: int
    top_errors: list[ErrorCountOut]


class LlmOut(BaseModel):
    """Model use of the runs (0 while the template calls no model)."""

    tokens: int
    cost: float


class TemplateAnalyticsOut(BaseModel):
    """A template's runs, completion, funnel, messages and response time over a range."""

    template_id: str = Field(description="The latest version's id.")
    family_id: str
    template_name: str
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    runs: RunsOut
    completion_by_day: list[DayOut]
    funnel: FunnelOut
    messages: MessagesOut
    avg_response_seconds: float | None = Field(
        description="Average seconds from the customer's message to a run's first reply."
    )
    llm: LlmOut

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, report: TemplateAnalytics) -> TemplateAnalyticsOut:
        """Build from a computed report."""
        row = report.template
        return cls(
            template_id=row.id,
            family_id=row.family_id,
            template_name=row.template_name,
            from_=report.first_day,
            to=report.last_day,
            runs=RunsOut(**report.runs),
            completion_by_day=[
                DayOut(day=d.day, started=d.started, completed=d.completed, rate=d.rate)
                for d in report.days
            ],
            funnel=FunnelOut(
                steps=[StepVisitsOut(step=step, visits=n) for step, n in report.visits],
                edges=[EdgeOut(from_=a, to=b, count=n) for a, b, n in report.edges],
            ),
            messages=MessagesOut(
                **report.messages,
                top_errors=[ErrorCountOut(code=c, count=n) for c, n in report.top_errors],
            ),
            avg_response_seconds=report.avg_response_seconds,
            llm=LlmOut(tokens=report.llm_tokens, cost=report.llm_cost),
        )
