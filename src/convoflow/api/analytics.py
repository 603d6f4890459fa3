"""``/api/analytics``: a template's numbers over a date range, as JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_responses
from convoflow.api.schemas.analytics import TemplateAnalyticsOut
from convoflow.services.analytics import export
from convoflow.services.analytics.report import date_range, template_analytics

router = APIRouter(
    prefix="/api/analytics",
    tags=["analytics"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 422),
)

Table = Literal["runs", "days", "funnel", "edges", "messages"]


@router.get(
    "/templates/{template_id}",
    response_model=TemplateAnalyticsOut,
    response_model_by_alias=True,
    responses={
        **error_responses(404),
        200: {"content": {"text/csv": {}}, "description": "The report, or one table as CSV."},
    },
)
async def analytics_of_template(
    template_id: str,
    request: Request,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    first_day: Annotated[
        date | None, Query(alias="from", description="First UTC day (default: 29 days before to).")
    ] = None,
    last_day: Annotated[
        date | None, Query(alias="to", description="Last UTC day (default: today).")
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="`csv` (or `Accept: text/csv`) exports one table."),
    ] = None,
    table: Annotated[Table, Query(description="The table a CSV export holds.")] = "runs",
) -> Response | TemplateAnalyticsOut:
    """Runs, completion by day, the step funnel, message delivery, response time and model
    use of your runs of a template, between two UTC days inclusive."""
    first, last = date_range(first_day, last_day, today=runtime.clock.now().date())
    await runtime.statistics.flush_for_reading()
    report = await template_analytics(
        db_session, caller=caller, template_id=template_id, first_day=first, last_day=last
    )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if not wants_csv:
        return TemplateAnalyticsOut.of(report)
    filename = f"{report.template.template_name}-{table}-{first}-{last}.csv"
    return Response(
        export.table_csv(report, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
