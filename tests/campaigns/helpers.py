"""Building and driving campaigns in tests: templates on the stand-in, a campaign with an
audience, scheduler passes, deliveries and inbound messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.clock import FakeClock
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.runtime import Runtime
from convoflow.services.campaigns import lifecycle
from convoflow.services.campaigns import recipients as audiences
from convoflow.services.campaigns.audience import from_csv
from convoflow.services.campaigns.scheduler import TickReport
from convoflow.services.campaigns.template_sync import sync_templates
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.store.models import (
    CampaignRecipient,
    MarketingCampaign,
    PhoneNumber,
    WhatsAppMessage,
)
from tests.campaigns.conftest import WABA_ID
from tests.jobs.helpers import owner_id
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, change, text, webhook

PROMO = {
    "id": "9001",
    "name": "spring_sale",
    "language": "en_US",
    "status": "APPROVED",
    "category": "MARKETING",
    "quality_score": {"score": "GREEN"},
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Spring sale"},
        {"type": "BODY", "text": "Hi {{1}}, {{2}} off in {{3}} today"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Tell me more"}]},
    ],
}
MAPPING = {"body": ["{{contact.name}}", "{{recipient.discount}}", "{{recipient.city}}"]}


def template(name: str, *, status: str = "APPROVED", body: str = "Hello {{1}}") -> dict[str, Any]:
    """A Graph template object with one body parameter."""
    return {
        "id": f"id-{name}",
        "name": name,
        "language": "en_US",
        "status": status,
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": body}],
    }


async def synced(runtime: Runtime, stub: GraphStub, *templates: dict[str, Any]) -> None:
    """Serve ``templates`` (PROMO by default) on the stand-in and sync them."""
    stub.set_templates(WABA_ID, list(templates) or [PROMO])
    await sync_templates(
        runtime.db_sessions,
        runtime.graph,
        runtime.access_tokens,
        owner_id=await owner_id(runtime),
        default_waba_id=WABA_ID,
        now=runtime.clock.now(),
    )


async def campaign_with(
    runtime: Runtime,
    csv_text: str,
    *,
    mapping: dict[str, list[str]] | None = None,
    template_name: str = "spring_sale",
    reply_template: str | None = None,
    plan: lifecycle.Schedule | None = None,
) -> str:
    """A campaign of the default owner with a CSV audience, scheduled by ``plan`` (default:
    now, 1000 mps); returns its id."""
    owner = await owner_id(runtime)
    now = runtime.clock.now()
    async with runtime.db_sessions() as db_session:
        campaign = await lifecycle.create_campaign(
            db_session,
            owner_id=owner,
            draft=lifecycle.CampaignDraft(
                name="Spring",
                template_name=template_name,
                template_language="en_US",
                parameters=MAPPING if mapping is None else mapping,
                reply_template=reply_template,
            ),
            now=now,
        )
    async with runtime.db_sessions() as db_session:
        await audiences.set_audience(
            db_session,
            owner_id=owner,
            campaign_id=campaign.id,
            audience=from_csv(csv_text),
            description={"source": "csv"},
            now=now,
        )
    async with runtime.db_sessions() as db_session:
        await lifecycle.schedule(
            db_session,
            owner_id=owner,
            campaign_id=campaign.id,
            plan=plan or lifecycle.Schedule(max_mps=1000),
            now=now,
        )
    return campaign.id


def csv_of(numbers: list[str], *, city: str = "Lyon") -> str:
    """A CSV audience of ``numbers`` with discount and city columns."""
    rows = ["phone,discount,city,name"] + [f"{n},20%,{city},Ana" for n in numbers]
    return "\n".join(rows) + "\n"


def numbers(count: int, start: int = 0) -> list[str]:
    """``count`` valid French mobile numbers (E.164 digits)."""
    return [f"336{12000000 + start + i:08d}" for i in range(count)]


async def tick(runtime: Runtime) -> TickReport:
    """One scheduler pass (what the campaign loop does every second)."""
    return await runtime.campaigns.scheduler.tick()


async def deliver(runtime: Runtime, customers: list[tuple[str, str]] | None = None) -> None:
    """Deliver the customers' outbox (default: every customer with queued rows)."""
    if customers is None:
        async with runtime.db_sessions() as db_session:
            rows = await db_session.execute(
                select(WhatsAppMessage.owner_id, WhatsAppMessage.customer_key)
                .where(WhatsAppMessage.direction == "out", WhatsAppMessage.status == "queued")
                .distinct()
            )
            customers = [(str(o), str(c)) for o, c in rows]
    if isinstance(getattr(runtime.jobs.sender.limiter, "clock", None), FakeClock):
        runtime.jobs.sender.limiter = LocalRateLimiter(1000)  # real time (see conftest)
    for owner, customer_key in customers:
        await runtime.jobs.sender.deliver_customer(owner, customer_key)


async def recipients(runtime: Runtime, campaign_id: str) -> dict[str, CampaignRecipient]:
    """The campaign's recipients by customer key."""
    async with runtime.db_sessions() as db_session:
        rows = await db_session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        )
        return {row.customer_key: row for row in rows}


async def statuses(runtime: Runtime, campaign_id: str) -> dict[str, str]:
    """Recipient statuses by customer key."""
    return {key: row.status for key, row in (await recipients(runtime, campaign_id)).items()}


async def campaign(runtime: Runtime, campaign_id: str) -> MarketingCampaign:
    """The campaign row."""
    async with runtime.db_sessions() as db_session:
        row = await db_session.get(MarketingCampaign, campaign_id)
        assert row is not None
        return row


async def set_tier(runtime: Runtime, tier: str) -> None:
    """Give every number the messaging-limit tier."""
    async with runtime.db_sessions.begin() as db_session:
        await db_session.execute(update(PhoneNumber).values(messaging_limit_tier=tier))


async def customer_writes(runtime: Runtime, customer_key: str, words: str) -> None:
    """Store an inbound text from the customer and process it (as the jobs would)."""
    parsed = parse_webhook(webhook(change([text(customer_key, words)])))
    received = await receive_webhook(
        runtime.db_sessions,
        PhoneNumberDirectory(runtime.db_sessions),
        parsed,
        now=runtime.clock.now(),
    )
    for owner, key in received.customers:
        await runtime.processor.process_customer(owner, key)


async def queue_conversation_row(
    runtime: Runtime, customer_key: str, payload: dict[str, Any]
) -> None:
    """An outbox row as a conversation writes it (no campaign), due at the clock's now;
    ``payload["type"]`` is its type (``text``, or ``template`` as a flow's template step)."""
    now = runtime.clock.now()
    async with runtime.db_sessions.begin() as db_session:
        db_session.add(
            WhatsAppMessage(
                owner_id=await owner_id(runtime),
                phone_number_id=PHONE_NUMBER_ID,
                customer_key=customer_key,
                direction="out",
                type=payload["type"],
                payload=payload,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
