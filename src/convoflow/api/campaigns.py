"""``/api/campaigns`` and ``/api/message-templates``: campaigns and the templates they send."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select

from convoflow.api.deps import CurrentUser, DbSessionDep, RuntimeDep, reject_nul_characters
from convoflow.api.errors import error_response, error_responses
from convoflow.api.paging import Paging
from convoflow.api.schemas.campaigns import (
    AudienceIn,
    AudienceOut,
    CampaignIn,
    CampaignOut,
    MessageTemplateOut,
    PauseIn,
    PreviewOut,
    RecipientOut,
    ScheduleIn,
    SyncOut,
)
from convoflow.api.schemas.common import Page
from convoflow.errors import GraphError, InvalidData
from convoflow.services.campaigns import audience, lifecycle, recipients
from convoflow.services.campaigns.template_sync import sync_templates
from convoflow.services.templates.flows import recipients_of_flow
from convoflow.store.models import MessageTemplate
from convoflow.store.models.campaigns import RECIPIENT_STATUSES

router = APIRouter(
    prefix="/api/campaigns",
    tags=["campaigns"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401, 404, 422),
)
templates_router = APIRouter(
    prefix="/api/message-templates",
    tags=["campaigns"],
    dependencies=[Depends(reject_nul_characters)],
    responses=error_responses(401),
)


@templates_router.get("", response_model=Page[MessageTemplateOut])
async def list_message_templates(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[MessageTemplateOut]:
    """Your synced WhatsApp message templates, by name and language."""
    async with db_session.begin():
        query = (
            select(MessageTemplate)
            .where(MessageTemplate.owner_id == caller.id)
            .order_by(MessageTemplate.name, MessageTemplate.language)
        )
        total = len((await db_session.scalars(query)).all())
        rows = (await db_session.scalars(query.limit(page.limit).offset(page.offset))).all()
        items = [MessageTemplateOut.of(row) for row in rows]
    return Page[MessageTemplateOut].of(items, total, page)


@templates_router.post("/sync", response_model=SyncOut, responses=error_responses(409, 502))
async def sync_message_templates(
    caller: CurrentUser, runtime: RuntimeDep
) -> SyncOut | JSONResponse:
    """Copy your WABAs' templates from the Graph API now (also done periodically)."""
    try:
        report = await sync_templates(
            runtime.db_sessions,
            runtime.graph,
            runtime.access_tokens,
            owner_id=caller.id,
            default_waba_id=runtime.settings.whatsapp_business_account_id,
            now=runtime.clock.now(),
        )
    except GraphError as error:
        return error_response(
            502, f"the Graph API refused the template list: {error}", code="graph_error"
        )
    return SyncOut(
        wabas=report.wabas, synced=report.synced, removed=report.removed, errors=report.errors
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignOut)
async def create_campaign(
    body: CampaignIn, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> CampaignOut:
    """Create a draft campaign: which template, its parameters, the reply template."""
    draft = lifecycle.CampaignDraft(
        name=body.name,
        template_name=body.template.name,
        template_language=body.template.language,
        parameters=body.parameters,
        phone_number_id=body.phone_number_id,
        reply_template=body.reply_template,
    )
    campaign = await lifecycle.create_campaign(
        db_session, owner_id=caller.id, draft=draft, now=runtime.clock.now()
    )
    return CampaignOut.of(campaign)


@router.get("", response_model=Page[CampaignOut])
async def list_campaigns(
    caller: CurrentUser, db_session: DbSessionDep, page: Paging
) -> Page[CampaignOut]:
    """Your campaigns, newest first."""
    rows, total = await lifecycle.list_campaigns(db_session, owner_id=caller.id, page=page)
    return Page[CampaignOut].of([CampaignOut.of(row) for row in rows], total, page)


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(
    campaign_id: str, caller: CurrentUser, db_session: DbSessionDep
) -> CampaignOut:
    """One campaign with its funnel."""
    campaign, funnel = await lifecycle.get_campaign(
        db_session, owner_id=caller.id, campaign_id=campaign_id
    )
    return CampaignOut.of(campaign, funnel)


async def _audience_body(request: Request) -> AudienceIn:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("text/csv"):
        return AudienceIn(csv=raw.decode("utf-8", "replace"))
    try:
        return AudienceIn.model_validate(json.loads(raw or b"null"))
    except ValueError as error:
        errors = error.errors() if isinstance(error, ValidationError) else []
        if not errors:
            raise InvalidData("body", "must be JSON (or text/csv)") from None
        raise RequestValidationError(errors) from None


@router.post(
    "/{campaign_id}/audience",
    response_model=AudienceOut,
    responses=error_responses(409),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": AudienceIn.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def set_audience(
    campaign_id: str,
    request: Request,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> AudienceOut:
    """Choose the recipients: contact filters, a CSV (JSON `csv` or a text/csv body), a
    flow's recipientArray, or a list; bad numbers are reported, duplicates dropped."""
    body = await _audience_body(request)
    sources = [body.filters, body.csv, body.flow_id, body.recipients]
    if sum(source is not None for source in sources) != 1:
        raise InvalidData("body", "give exactly one of filters, csv, flow_id, recipients")
    if body.filters is not None:
        filters = audience.ContactFilters(
            user_types=tuple(body.filters.user_types),
            tags=tuple(body.filters.tags),
            last_seen_after=body.filters.last_seen_after,
            last_seen_before=body.filters.last_seen_before,
            opted_in=body.filters.opted_in,
        )
        async with db_session.begin():
            chosen = await audience.from_contacts(db_session, caller.id, filters)
        description = {"source": "filters", **body.filters.model_dump(mode="json")}
    elif body.csv is not None:
        chosen, description = audience.from_csv(body.csv), {"source": "csv"}
    elif body.flow_id is not None:
        items = await recipients_of_flow(db_session, caller=caller, flow_id=body.flow_id)
        chosen = audience.from_recipient_array(items)
        description = {"source": "flow", "flow_id": body.flow_id}
    else:
        chosen = audience.from_recipient_array(list(body.recipients or []))
        description = {"source": "list"}
    report = await recipients.set_audience(
        db_session,
        owner_id=caller.id,
        campaign_id=campaign_id,
        audience=chosen,
        description=description,
        now=runtime.clock.now(),
    )
    return AudienceOut.of(report)


@router.get("/{campaign_id}/preview", response_model=PreviewOut)
async def preview_campaign(
    campaign_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    recipient: Annotated[str | None, Query(max_length=160)] = None,
) -> PreviewOut:
    """The message one recipient (default: the first) would be sent."""
    key, message = await recipients.preview(
        db_session, owner_id=caller.id, campaign_id=campaign_id, customer_key=recipient
    )
    return PreviewOut(customer_key=key, message=message)


@router.post("/{campaign_id}/schedule", response_model=CampaignOut, responses=error_responses(409))
async def schedule_campaign(
    campaign_id: str,
    body: ScheduleIn,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
) -> CampaignOut:
    """Schedule the campaign: now or at a time (in `timezone`), a daily window, `max_mps`."""
    plan = lifecycle.Schedule(
        start_at=None if body.start_at in (None, "now") else body.start_at,  # type: ignore[arg-type]
        timezone=body.timezone,
        window_start=body.window.start if body.window else None,
        window_end=body.window.end if body.window else None,
        window_timezone=body.window.timezone if body.window else "campaign",
        max_mps=body.max_mps,
    )
    campaign = await lifecycle.schedule(
        db_session, owner_id=caller.id, campaign_id=campaign_id, plan=plan, now=runtime.clock.now()
    )
    return CampaignOut.of(campaign)


@router.post("/{campaign_id}/pause", response_model=CampaignOut, responses=error_responses(409))
async def pause_campaign(
    campaign_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    runtime: RuntimeDep,
    body: PauseIn | None = None,
) -> CampaignOut:
    """Pause sending; what is queued and not yet sent is taken back."""
    campaign = await lifecycle.pause(
        db_session,
        owner_id=caller.id,
        campaign_id=campaign_id,
        reason=(body or PauseIn()).reason,
        now=runtime.clock.now(),
    )
    return CampaignOut.of(campaign)


@router.post("/{campaign_id}/resume", response_model=CampaignOut, responses=error_responses(409))
async def resume_campaign(
    campaign_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> CampaignOut:
    """Resume a paused campaign."""
    campaign = await lifecycle.resume(
        db_session, owner_id=caller.id, campaign_id=campaign_id, now=runtime.clock.now()
    )
    return CampaignOut.of(campaign)


@router.post("/{campaign_id}/cancel", response_model=CampaignOut, responses=error_responses(409))
async def cancel_campaign(
    campaign_id: str, caller: CurrentUser, db_session: DbSessionDep, runtime: RuntimeDep
) -> CampaignOut:
    """Cancel the campaign: nobody not yet sent to will be."""
    campaign = await lifecycle.cancel(
        db_session, owner_id=caller.id, campaign_id=campaign_id, now=runtime.clock.now()
    )
    return CampaignOut.of(campaign)


@router.get("/{campaign_id}/recipients", response_model=Page[RecipientOut])
async def list_recipients(
    campaign_id: str,
    caller: CurrentUser,
    db_session: DbSessionDep,
    page: Paging,
    status: Annotated[str | None, Query(description=", ".join(RECIPIENT_STATUSES))] = None,
) -> Page[RecipientOut]:
    """The campaign's recipients with their statuses and timestamps."""
    if status is not None and status not in RECIPIENT_STATUSES:
        raise InvalidData("status", f"must be one of {', '.join(RECIPIENT_STATUSES)}")
    rows, total = await recipients.recipients_page(
        db_session, owner_id=caller.id, campaign_id=campaign_id, status=status, page=page
    )
    return Page[RecipientOut].of([RecipientOut.of(row) for row in rows], total, page)
