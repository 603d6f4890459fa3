"""Campaigns and message templates as the admin API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from convoflow.services.campaigns.funnel import Funnel
from convoflow.services.campaigns.recipients import AudienceReport
from convoflow.store.models import CampaignRecipient, MarketingCampaign, MessageTemplate

_STRICT = ConfigDict(extra="forbid")
ParameterMap = dict[str, list[str]]


class TemplateChoice(BaseModel):
    """Which approved WhatsApp template a campaign sends."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en_US", min_length=2, max_length=20)


class CampaignIn(BaseModel):
    """A new campaign (a draft until it is scheduled)."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    template: TemplateChoice
    parameters: ParameterMap = Field(
        default_factory=dict,
        description="Texts per template component (`header`, `body`, `button:0`), one per "
        "placeholder; they may use {{contact.name}}, {{recipient.<column>}}, {{campaign.name}}.",
    )
    phone_number_id: str | None = Field(default=None, max_length=64)
    reply_template: str | None = Field(
        default=None, max_length=200, description="The conversation template a reply starts."
    )


class ContactFiltersIn(BaseModel):
    """Contacts chosen by filters (every condition given must hold)."""

    model_config = _STRICT

    user_types: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=50, description="Any of these.")
    last_seen_after: datetime | None = None
    last_seen_before: datetime | None = None
    opted_in: bool = True


class AudienceIn(BaseModel):
    """Exactly one source: contact filters, a CSV text, a Flow Runner flow's
    recipientArray, or a list of recipients."""

    model_config = _STRICT

    filters: ContactFiltersIn | None = None
    csv: str | None = Field(default=None, description="CSV with a header and a phone column.")
    flow_id: str | None = Field(default=None, max_length=64)
    recipients: list[dict[str, Any] | str] | None = Field(default=None, max_length=100_000)


class RejectedRowOut(BaseModel):
    """A row that was not taken."""

    row: int
    value: str
    reason: str


class AudienceOut(BaseModel):
    """What an audience upload did."""

    recipients: int
    rejected: int
    duplicates: int
    opted_out: int
    rejected_rows: list[RejectedRowOut]

    @classmethod
    def of(cls, report: AudienceReport) -> AudienceOut:
        """From the service's report."""
        return cls(
            recipients=report.recipients,
            rejected=report.rejected,
            duplicates=report.duplicates,
            opted_out=report.opted_out,
            rejected_rows=[RejectedRowOut(**row) for row in report.rejected_rows],
        )


class WindowIn(BaseModel):
    """A daily send window in local time."""

    model_config = _STRICT

    start: str = Field(pattern=r"^\d\d:\d\d$", examples=["09:00"])
    end: str = Field(pattern=r"^\d\d:\d\d$", examples=["20:00"])
    timezone: Literal["campaign", "recipient"] = "campaign"


class ScheduleIn(BaseModel):
    """When and how fast: `start_at` omitted (or "now") starts at once."""

    model_config = _STRICT

    start_at: datetime | Literal["now"] | None = None
    timezone: str = Field(default="UTC", max_length=64)
    window: WindowIn | None = None
    max_mps: float = Field(default=10.0, gt=0, le=1000)


class PauseIn(BaseModel):
    """Why the campaign is paused (shown to the owner)."""

    model_config = _STRICT

    reason: str = Field(default="paused by the owner", max_length=500)


class FunnelOut(BaseModel):
    """Targeted → sent → delivered → read → replied → opted out, and failures by code."""

    targeted: int
    sent: int
    delivered: int
    read: int
    replied: int
    opted_out: int
    by_status: dict[str, int]
    failures: dict[str, int]

    @classmethod
    def of(cls, funnel: Funnel) -> FunnelOut:
        """From the service's funnel."""
        return cls(
            targeted=funnel.targeted,
            sent=funnel.sent,
            delivered=funnel.delivered,
            read=funnel.read,
            replied=funnel.replied,
            opted_out=funnel.opted_out,
            by_status=funnel.by_status,
            failures=funnel.failures,
        )


class CampaignOut(BaseModel):
    """A campaign, and its funnel when asked for one campaign."""

    id: str
    name: str
    status: str
    paused_reason: str | None
    phone_number_id: str
    template: TemplateChoice
    parameters: ParameterMap
    reply_template: str | None
    audience: dict[str, Any]
    start_at: datetime | None
    timezone: str
    window: WindowIn | None
    max_mps: float
    batches: int
    held_until: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    funnel: FunnelOut | None = None

    @classmethod
    def of(cls, row: MarketingCampaign, funnel: Funnel | None = None) -> CampaignOut:
        """From the stored campaign."""
        window = None
        if row.window_start and row.window_end:
            window = WindowIn(
                start=row.window_start,
                end=row.window_end,
                timezone="recipient" if row.window_timezone == "recipient" else "campaign",
            )
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            paused_reason=row.paused_reason,
            phone_number_id=row.phone_number_id,
            template=TemplateChoice(name=row.template_name, language=row.template_language),
            parameters=row.parameters,
            reply_template=row.reply_template,
            audience=row.audience,
            start_at=row.start_at,
            timezone=row.timezone,
            window=window,
            max_mps=row.max_mps,
            batches=row.batches,
            held_until=row.held_until,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            funnel=FunnelOut.of(funnel) if funnel is not None else None,
        )


class RecipientOut(BaseModel):
    """One recipient: status, timestamps, parameters and what went wrong."""

    id: str
    customer_key: str
    status: str
    columns: dict[str, Any]
    timezone: str | None
    wamid: str | None
    error_code: int | None
    error_text: str | None
    defer_count: int
    deferred_until: datetime | None
    queued_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    replied_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: CampaignRecipient) -> RecipientOut:
        """From the stored recipient."""
        return cls.model_validate(row, from_attributes=True)


class PreviewOut(BaseModel):
    """What one recipient would be sent (the Graph API message body)."""

    customer_key: str
    message: dict[str, Any]


class MessageTemplateOut(BaseModel):
    """A synced WhatsApp message template."""

    id: str
    waba_id: str
    graph_id: str | None
    name: str
    language: str
    category: str
    status: str
    quality_rating: str | None
    status_reason: str | None
    components: list[Any]
    parameters: dict[str, Any]
    parameter_count: int
    synced_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: MessageTemplate) -> MessageTemplateOut:
        """From the stored template."""
        return cls.model_validate(row, from_attributes=True)


class SyncOut(BaseModel):
    """What a template sync did."""

    wabas: list[str]
    synced: int
    removed: int
    errors: list[str]
