"""The campaign scheduler: puts campaign messages in the outbox, paced, and follows them.

One pass (:meth:`CampaignScheduler.tick`, about every second) does, per campaign:

1. ``scheduled`` campaigns whose start has come become ``sending``;
2. a ``sending`` campaign inside its daily window, not held back by the messaging limit,
   gets its next batch: as many recipients as its ``max_mps`` allows since its last batch
   (never more than a few seconds' worth waiting in the outbox), ``pending`` ones and
   ``deferred`` ones that are due, in upload order. Contacts who opted out are marked
   ``opted_out``; recipients over the messaging limit are ``deferred`` until the oldest
   counted customer leaves the moving 24 hours; the rest become ``queued`` with one outbox
   row each (``priority`` 1, ``campaign_recipient_id``). The batch is recorded in
   ``campaign_send_schedule`` in the same transaction, under an optimistic check of the
   campaign's batch counter, so two processes never queue the same batch and a crash
   either queued a whole batch or none of it;
3. recipients follow their outbox rows (:mod:`.statuses`);
4. a ``sending`` campaign with nobody left to send to is ``completed``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from convoflow.clock import Clock, SystemClock
from convoflow.services.campaigns.content import render_payload
from convoflow.services.campaigns.limits import (
    in_window,
    limit_of,
    reach_of,
    service_window_open,
)
from convoflow.services.campaigns.statuses import follow_outbox
from convoflow.store.message_templates import find_message_template
from convoflow.store.models import (
    CampaignRecipient,
    CampaignSendSchedule,
    Contact,
    MarketingCampaign,
    WhatsAppMessage,
)
from convoflow.store.models.campaigns import CAMPAIGN_PRIORITY

__all__ = ["CampaignScheduler", "TickReport"]

logger = logging.getLogger(__name__)

#: At most this many recipients per batch, and this many seconds of sending in the outbox.
MAX_BATCH = 500
OUTBOX_AHEAD_SECONDS = 3.0
#: A campaign that was idle longer does not catch up: at most this much time's budget.
MAX_CATCH_UP_SECONDS = 2.0
LIMIT_REASON = "messaging limit reached; waits for the moving 24 hours"


@dataclass(slots=True)
class TickReport:
    """What one pass did; ``customers`` have new outbox rows to deliver."""

    started: int = 0
    queued: int = 0
    deferred: int = 0
    opted_out: int = 0
    followed: int = 0
    completed: int = 0
    customers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _Batch:
    queue_counted: list[Any] = field(default_factory=list)
    queue_free: list[Any] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    opted_out: list[str] = field(default_factory=list)
    deferred_until: datetime | None = None


class CampaignScheduler:
    """Moves campaigns forward; safe to run in any number of processes at once."""

    def __init__(
        self, db_sessions: async_sessionmaker[AsyncSession], *, clock: Clock = SystemClock()
    ) -> None:
        self.db_sessions = db_sessions
        self.clock = clock

    async def tick(self) -> TickReport:
        """One pass over every campaign (see the module docstring)."""
        now = self.clock.now()
        report = TickReport()
        async with self.db_sessions.begin() as db_session:
            started = await db_session.execute(
                update(MarketingCampaign)
                .where(
                    MarketingCampaign.status == "scheduled",
                    or_(MarketingCampaign.start_at.is_(None), MarketingCampaign.start_at <= now),
                )
                .values(status="sending", started_at=now, updated_at=now)
                .returning(MarketingCampaign.id)
            )
            report.started = len(started.all())
        async with self.db_sessions() as db_session:
            sending = list(
                (
                    await db_session.scalars(
                        select(MarketingCampaign.id).where(MarketingCampaign.status == "sending")
                    )
                ).all()
            )
        for campaign_id in sending:
            await self._next_batch(campaign_id, now, report)
        async with self.db_sessions.begin() as db_session:
            report.followed = await follow_outbox(db_session, now=now)
        report.completed = await self._complete(now)
        return report

    async def _next_batch(self, campaign_id: str, now: datetime, report: TickReport) -> None:
        async with self.db_sessions.begin() as db_session:
            campaign = await db_session.get(MarketingCampaign, campaign_id)
            if campaign is None or campaign.status != "sending":
                return
            if campaign.held_until is not None and campaign.held_until > now:
                return
            if campaign.window_timezone == "campaign" and not in_window(
                now, campaign.timezone, campaign.window_start, campaign.window_end
            ):
                return
            budget = await self._budget(db_session, campaign, now)
            if budget < 1:
                return
            candidates = await self._candidates(db_session, campaign, now, budget)
            if not candidates:
                return
            batch = await self._sort(db_session, campaign, candidates, now)
            # The optimistic check: whoever moves the counter first owns this batch.
            claimed = await db_session.execute(
                update(MarketingCampaign)
                .where(
                    MarketingCampaign.id == campaign.id,
                    MarketingCampaign.batches == campaign.batches,
                    MarketingCampaign.status == "sending",
                )
                .values(
                    batches=campaign.batches + 1,
                    last_batch_at=now,
                    held_until=batch.deferred_until,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(claimed, "rowcount", 0):
                await db_session.rollback()
                return
            queued = await self._queue(db_session, campaign, batch, now)
            await self._mark(db_session, batch, now)
            db_session.add(
                CampaignSendSchedule(
                    campaign_id=campaign.id,
                    sequence=campaign.batches + 1,
                    queued=len(queued),
                    deferred=len(batch.deferred),
                    opted_out=len(batch.opted_out),
                    first_message_id=min((m for _, m in queued), default=None),
                    last_message_id=max((m for _, m in queued), default=None),
                    created_at=now,
                )
            )
            owner_id = campaign.owner_id
        report.queued += len(queued)
        report.deferred += len(batch.deferred)
        report.opted_out += len(batch.opted_out)
        report.customers.extend((owner_id, key) for key, _ in queued)

    async def _budget(
        self, db_session: AsyncSession, campaign: MarketingCampaign, now: datetime
    ) -> int:
        waiting = await db_session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "queued"
            )
        )
        ahead = max(math.ceil(campaign.max_mps * OUTBOX_AHEAD_SECONDS), 1) - int(waiting or 0)
        catch_up = max(MAX_CATCH_UP_SECONDS, 1.0 / campaign.max_mps)
        if campaign.last_batch_at is None:
            elapsed = catch_up
        else:
            elapsed = min((now - campaign.last_batch_at).total_seconds(), catch_up)
        pace = math.floor(campaign.max_mps * elapsed + 1e-9)
        return max(min(pace, ahead, MAX_BATCH), 0)

    async def _candidates(
        self, db_session: AsyncSession, campaign: MarketingCampaign, now: datetime, budget: int
    ) -> list[CampaignRecipient]:
        recipient = CampaignRecipient
        due = or_(
            recipient.status == "pending",
            (recipient.status == "deferred")
            & or_(recipient.deferred_until.is_(None), recipient.deferred_until <= now),
        )
        query = select(recipient).where(recipient.campaign_id == campaign.id, due)
        if campaign.window_timezone == "recipient" and campaign.window_start is not None:
            zones = (
                await db_session.scalars(
                    select(recipient.timezone)
                    .where(recipient.campaign_id == campaign.id, due)
                    .distinct()
                )
            ).all()
            open_zones = [
                zone
                for zone in zones
                if in_window(
                    now, zone or campaign.timezone, campaign.window_start, campaign.window_end
                )
            ]
            if not open_zones:
                return []
            condition: Any = recipient.timezone.in_([z for z in open_zones if z is not None])
            if None in open_zones:
                condition = condition | recipient.timezone.is_(None)
            query = query.where(condition)
        rows = await db_session.scalars(query.order_by(recipient.id).limit(budget))
        return list(rows.all())

    async def _sort(
        self,
        db_session: AsyncSession,
        campaign: MarketingCampaign,
        candidates: list[CampaignRecipient],
        now: datetime,
    ) -> _Batch:
        """Who is queued (and counts against the limit), deferred or opted out."""
        keys = [candidate.customer_key for candidate in candidates]
        contacts = {
            row.customer_key: row
            for row in (
                await db_session.execute(
                    select(
                        Contact.customer_key,
                        Contact.name,
                        Contact.last_inbound_at,
                        Contact.opted_out,
                    ).where(Contact.owner_id == campaign.owner_id, Contact.customer_key.in_(keys))
                )
            )
        }
        limit = await limit_of(db_session, campaign.owner_id, campaign.phone_number_id)
        reached: set[str] = set()
        release: datetime | None = None
        room: int | None = None
        if limit is not None:
            reach = await reach_of(db_session, campaign.owner_id, now, keys)
            reached, release, room = set(reach.among), reach.release, limit - reach.count
        batch = _Batch()
        for candidate in candidates:
            contact = contacts.get(candidate.customer_key)
            if contact is not None and contact.opted_out:
                batch.opted_out.append(candidate.id)
                continue
            window_open = contact is not None and service_window_open(contact.last_inbound_at, now)
            name = contact.name if contact is not None else ""
            if window_open or room is None or candidate.customer_key in reached:
                batch.queue_free.append((candidate, name))
            elif room > 0:
                room -= 1
                reached.add(candidate.customer_key)
                batch.queue_counted.append((candidate, name))
            else:
                batch.deferred.append(candidate.id)
                batch.deferred_until = release or now + timedelta(hours=24)
        return batch

    async def _queue(
        self, db_session: AsyncSession, campaign: MarketingCampaign, batch: _Batch, now: datetime
    ) -> list[tuple[str, int]]:
        """Queue one outbox row per recipient still pending or deferred; returns
        (customer_key, message id) of each."""
        template = await find_message_template(
            db_session, campaign.owner_id, campaign.template_name, campaign.template_language
        )
        parameters = template.parameters if template is not None else None
        queued: list[tuple[str, int]] = []
        for group, counted in ((batch.queue_counted, True), (batch.queue_free, False)):
            if not group:
                continue
            taken = set(
                (
                    await db_session.scalars(
                        update(CampaignRecipient)
                        .where(
                            CampaignRecipient.id.in_([c.id for c, _ in group]),
                            CampaignRecipient.status.in_(("pending", "deferred")),
                        )
                        .values(status="queued", queued_at=now, counted=counted, updated_at=now)
                        .returning(CampaignRecipient.id)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
            rows = [
                {
                    "owner_id": campaign.owner_id,
                    "phone_number_id": campaign.phone_number_id,
                    "customer_key": candidate.customer_key,
                    "direction": "out",
                    "type": "template",
                    "payload": render_payload(
                        campaign,
                        parameters,
                        columns=candidate.columns,
                        contact_name=name,
                        customer_key=candidate.customer_key,
                    ),
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "priority": CAMPAIGN_PRIORITY,
                    "campaign_recipient_id": candidate.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for candidate, name in group
                if candidate.id in taken
            ]
            if not rows:
                continue
            ids = (
                await db_session.scalars(
                    insert(WhatsAppMessage).returning(
                        WhatsAppMessage.id, sort_by_parameter_order=True
                    ),
                    rows,
                )
            ).all()
            await db_session.execute(
                update(CampaignRecipient),
                [
                    {"id": row["campaign_recipient_id"], "message_id": message_id}
                    for row, message_id in zip(rows, ids, strict=True)
                ],
            )
            queued.extend(
                (row["customer_key"], message_id) for row, message_id in zip(rows, ids, strict=True)
            )
        return queued

    @staticmethod
    async def _mark(db_session: AsyncSession, batch: _Batch, now: datetime) -> None:
        if batch.deferred:
            await db_session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id.in_(batch.deferred),
                    CampaignRecipient.status.in_(("pending", "deferred")),
                )
                .values(
                    status="deferred",
                    deferred_until=batch.deferred_until,
                    error_text=LIMIT_REASON,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        if batch.opted_out:
            await db_session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id.in_(batch.opted_out),
                    CampaignRecipient.status.in_(("pending", "deferred")),
                )
                .values(status="opted_out", finished_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    async def _complete(self, now: datetime) -> int:
        open_recipients = (
            select(CampaignRecipient.id)
            .where(
                CampaignRecipient.campaign_id == MarketingCampaign.id,
                CampaignRecipient.status.in_(("pending", "queued", "deferred")),
            )
            .exists()
        )
        async with self.db_sessions.begin() as db_session:
            done = await db_session.execute(
                update(MarketingCampaign)
                .where(MarketingCampaign.status == "sending", ~open_recipients)
                .values(status="completed", finished_at=now, updated_at=now)
                .returning(MarketingCampaign.id)
                .execution_options(synchronize_session=False)
            )
            completed = [row[0] for row in done]
        for campaign_id in completed:
            logger.info("campaign %s completed", campaign_id)
        return len(completed)
