"""Keeping the local copy of each owner's WhatsApp message templates in step with Meta.

:func:`sync_templates` reads every page of ``GET /{waba-id}/message_templates`` for each
WABA of the owner's numbers (a number without its own WABA id uses the server's
``CONVOFLOW_WHATSAPP_BUSINESS_ACCOUNT_ID``) and upserts one row per name and language;
a template Meta no longer lists is removed. It runs from ``convoflow templates sync``,
``POST /api/message-templates/sync`` and the periodic job.

Template webhooks (``message_template_status_update``, ``message_template_quality_update``)
change the row at once (:func:`apply_template_updates`); a template that becomes PAUSED,
DISABLED or RED quality pauses every campaign that sends it, saying why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.errors import AccessTokenUnavailable, Conflict
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.campaigns.template_parameters import count, parameters_of
from convoflow.store.models import MarketingCampaign, MessageTemplate, PhoneNumber
from convoflow.store.types import new_id
from convoflow.store.upsert import insert_for

__all__ = [
    "SyncReport",
    "TemplateSource",
    "TemplateUpdate",
    "apply_template_updates",
    "pause_campaigns_of_template",
    "sync_templates",
]

logger = logging.getLogger(__name__)

#: Template states and quality under which campaigns sending the template are paused.
PAUSING_STATUSES = frozenset({"PAUSED", "DISABLED"})
PAUSING_QUALITY = frozenset({"RED"})
#: A runaway cursor must not loop forever: 6,000 templates per WABA at 100 a page is 60.
MAX_PAGES = 200
ACTIVE_CAMPAIGN_STATUSES = ("scheduled", "sending")


class TemplateSource(Protocol):
    """Where templates come from (the Graph API client)."""

    async def list_message_templates(
        self, waba_id: str, *, access_token: str | None = None, after: str | None = None
    ) -> dict[str, Any]:
        """One page of the WABA's templates."""
        ...


@dataclass(frozen=True, slots=True)
class TemplateUpdate:
    """A template webhook: a new status (``event``) or a new quality score."""

    waba_id: str
    graph_id: str | None
    name: str | None
    language: str | None
    status: str | None = None
    quality: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class SyncReport:
    """What a sync did, per owner and in all."""

    wabas: list[str] = field(default_factory=list)
    synced: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)


async def _wabas(db_session: AsyncSession, owner_id: str, default_waba_id: str) -> dict[str, str]:
    """WABA id → a phone_number_id of the owner on it (whose token reads the templates)."""
    rows = await db_session.execute(
        select(PhoneNumber.phone_number_id, PhoneNumber.waba_id)
        .where(PhoneNumber.owner_id == owner_id)
        .order_by(PhoneNumber.created_at)
    )
    found: dict[str, str] = {}
    for number, waba_id in rows:
        waba = waba_id or default_waba_id
        if waba:
            found.setdefault(waba, number)
    return found


async def sync_templates(
    db_sessions: async_sessionmaker[AsyncSession],
    source: TemplateSource,
    tokens: AccessTokens | None,
    *,
    owner_id: str,
    default_waba_id: str = "",
    now: datetime,
) -> SyncReport:
    """Copy every template of the owner's WABAs into ``message_templates``."""
    report = SyncReport()
    async with db_sessions() as db_session:
        wabas = await _wabas(db_session, owner_id, default_waba_id)
    if not wabas:
        raise Conflict(
            "no WhatsApp Business Account: give your number a waba_id "
            "(PATCH /api/phone-numbers/{number}) or set CONVOFLOW_WHATSAPP_BUSINESS_ACCOUNT_ID"
        )
    for waba_id, phone_number_id in wabas.items():
        token: str | None = None
        if tokens is not None:
            try:
                token = await tokens.token_for(phone_number_id)
            except AccessTokenUnavailable as missing:
                report.errors.append(f"{waba_id}: {missing}")
                continue
        templates = await _read_all(source, waba_id, token)
        report.wabas.append(waba_id)
        async with db_sessions.begin() as db_session:
            synced, removed = await _store(db_session, owner_id, waba_id, templates, now=now)
            for template in templates:
                await _pause_if_unusable(db_session, owner_id, template, now=now)
        report.synced += synced
        report.removed += removed
    return report


async def _read_all(
    source: TemplateSource, waba_id: str, token: str | None
) -> list[dict[str, Any]]:
    templates: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = await source.list_message_templates(waba_id, access_token=token, after=after)
        data = page.get("data")
        templates.extend(
            item for item in (data if isinstance(data, list) else []) if isinstance(item, dict)
        )
        paging = _object(page.get("paging"))
        cursor = _object(paging.get("cursors")).get("after")
        after = cursor if isinstance(cursor, str) else None
        if not paging.get("next") or not after:
            break
    return templates


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _quality(template: dict[str, Any]) -> str | None:
    score = template.get("quality_score")
    if isinstance(score, dict):
        value = score.get("score")
        return str(value).upper() if value else None
    return str(score).upper() if isinstance(score, str) else None


async def _store(
    db_session: AsyncSession,
    owner_id: str,
    waba_id: str,
    templates: list[dict[str, Any]],
    *,
    now: datetime,
) -> tuple[int, int]:
    # A template is one row per owner, name and language (the unique key), whichever of the
    # owner's WABAs it was last seen in: match on that key, so a template that moved to
    # another WABA (or a number that did) updates its row instead of clashing with it.
    existing = {
        (row.name, row.language): row
        for row in (
            await db_session.scalars(
                select(MessageTemplate).where(MessageTemplate.owner_id == owner_id)
            )
        ).all()
    }
    seen: set[tuple[str, str]] = set()
    for template in templates:
        name, language = template.get("name"), template.get("language")
        if not isinstance(name, str) or not isinstance(language, str) or (name, language) in seen:
            continue
        seen.add((name, language))
        components = template.get("components")
        components = components if isinstance(components, list) else []
        parameters = parameters_of(components)
        values = {
            "graph_id": str(template["id"]) if template.get("id") is not None else None,
            "category": str(template.get("category") or "").upper(),
            "status": str(template.get("status") or "").upper(),
            "quality_rating": _quality(template),
            "status_reason": _reason(template.get("rejected_reason")),
            "components": components,
            "parameters": parameters,
            "parameter_count": count(parameters),
            "synced_at": now,
            "updated_at": now,
        }
        values["waba_id"] = waba_id
        # An upsert, not an insert: the periodic sync and `POST /api/message-templates/sync`
        # may store the same owner's templates at the same moment.
        statement = insert_for(db_session, MessageTemplate).values(
            id=new_id(), owner_id=owner_id, name=name, language=language, **values
        )
        await db_session.execute(
            statement.on_conflict_do_update(
                index_elements=["owner_id", "name", "language"], set_=values
            )
        )
    gone = [row.id for key, row in existing.items() if row.waba_id == waba_id and key not in seen]
    if gone:
        await db_session.execute(delete(MessageTemplate).where(MessageTemplate.id.in_(gone)))
    return len(seen), len(gone)


def _reason(value: Any) -> str | None:
    if not isinstance(value, str) or value.upper() in ("", "NONE"):
        return None
    return value


def _unusable_reason(status: str | None, quality: str | None) -> str | None:
    if status in PAUSING_STATUSES:
        return f"status {status}"
    if quality in PAUSING_QUALITY:
        return f"quality rating {quality}"
    return None


async def _pause_if_unusable(
    db_session: AsyncSession, owner_id: str, template: dict[str, Any], *, now: datetime
) -> None:
    name, language = template.get("name"), template.get("language")
    why = _unusable_reason(str(template.get("status") or "").upper(), _quality(template))
    if why is not None and isinstance(name, str) and isinstance(language, str):
        await pause_campaigns_of_template(
            db_session,
            owner_id,
            name,
            language,
            reason=f"template {name} ({language}): {why}",
            now=now,
        )


async def pause_campaigns_of_template(
    db_session: AsyncSession,
    owner_id: str,
    name: str,
    language: str,
    *,
    reason: str,
    now: datetime,
) -> int:
    """Pause the owner's scheduled and sending campaigns of this template; how many."""
    result = await db_session.execute(
        update(MarketingCampaign)
        .where(
            MarketingCampaign.owner_id == owner_id,
            MarketingCampaign.template_name == name,
            MarketingCampaign.template_language == language,
            MarketingCampaign.status.in_(ACTIVE_CAMPAIGN_STATUSES),
        )
        .values(status="paused", paused_reason=reason, updated_at=now)
        .returning(MarketingCampaign.id)
    )
    paused = [row[0] for row in result]
    for campaign_id in paused:
        logger.warning("campaign %s paused: %s", campaign_id, reason)
    return len(paused)


async def apply_template_updates(
    db_sessions: async_sessionmaker[AsyncSession], updates: list[TemplateUpdate], *, now: datetime
) -> int:
    """Apply template webhooks to the stored rows (matched by Meta's id, else by name and
    language within the WABA); pause the campaigns of a template that became unusable.
    Returns how many rows changed."""
    changed = 0
    async with db_sessions.begin() as db_session:
        for item in updates:
            query = select(MessageTemplate).where(MessageTemplate.waba_id == item.waba_id)
            if item.graph_id:
                query = query.where(MessageTemplate.graph_id == item.graph_id)
            elif item.name and item.language:
                query = query.where(
                    MessageTemplate.name == item.name, MessageTemplate.language == item.language
                )
            else:
                continue
            for row in (await db_session.scalars(query)).all():
                if item.status:
                    row.status = item.status.upper()
                    row.status_reason = _reason(item.reason)
                if item.quality:
                    row.quality_rating = item.quality.upper()
                row.updated_at = now
                changed += 1
                why = _unusable_reason(row.status, row.quality_rating)
                if why is not None:
                    await pause_campaigns_of_template(
                        db_session,
                        row.owner_id,
                        row.name,
                        row.language,
                        reason=f"template {row.name} ({row.language}): {why}",
                        now=now,
                    )
    return changed
