"""Rows for the job tests: a customer with queued outbound messages, and reading them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from convoflow.clock import Clock
from convoflow.jobs.worker import BackgroundJobs
from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from convoflow.store import accounts
from convoflow.store.models import Contact, WhatsAppMessage
from convoflow.store.types import new_id, utcnow
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, app_settings


@asynccontextmanager
async def started_runtime(
    database_url: str, graph_stub: GraphStub, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[Runtime]:
    """A runtime on the stand-in Graph API with the built-in templates seeded, its jobs
    running in this process (in-memory broker, no sweeper); ``overrides`` go to the settings,
    ``clock`` (default: the system clock) to every part.
    """
    runtime = Runtime.build(app_settings(database_url, graph_stub, **overrides), clock=clock)
    await truncate_all(runtime.engine)
    await seed(runtime.db_sessions, owner_name="admin", phone_number_id=PHONE_NUMBER_ID)
    background = BackgroundJobs(runtime, sweep=False)
    await background.start()
    try:
        yield runtime
    finally:
        await background.stop()
        await truncate_all(runtime.engine)
        await runtime.close()


async def owner_id(runtime: Runtime, username: str = "admin") -> str:
    """The id of a platform user (default: the seeded default owner)."""
    async with runtime.db_sessions() as db_session:
        return (await accounts.get_user(db_session, username)).id


async def add_contact(
    runtime: Runtime,
    customer_key: str,
    *,
    wa_id: str | None = None,
    bsuid: str | None = None,
    last_inbound_at: datetime | None = None,
    owner_name: str = "admin",
) -> str:
    """A contact of ``owner_name`` who last wrote at ``last_inbound_at`` (default: a minute
    ago); returns the owner's id."""
    owner = await owner_id(runtime, owner_name)
    now = utcnow()
    async with runtime.db_sessions.begin() as db_session:
        db_session.add(
            Contact(
                id=new_id(),
                owner_id=owner,
                customer_key=customer_key,
                wa_id=wa_id if (wa_id or bsuid) else customer_key,
                bsuid=bsuid,
                name="Ana",
                first_seen_at=now,
                last_seen_at=now,
                last_inbound_at=last_inbound_at or now - timedelta(minutes=1),
                opted_out=False,
            )
        )
    return owner


async def queue_texts(
    runtime: Runtime,
    customer_key: str,
    texts: list[str],
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    template_id: str | None = None,
    owner_name: str = "admin",
) -> list[int]:
    """Queue text rows for the customer, as the engine would; returns their ids."""
    owner = await owner_id(runtime, owner_name)
    now = utcnow()
    rows = [
        WhatsAppMessage(
            owner_id=owner,
            phone_number_id=phone_number_id,
            customer_key=customer_key,
            direction="out",
            type="text",
            payload={"type": "text", "text": {"body": body}},
            status="queued",
            attempts=0,
            next_attempt_at=now,
            template_id=template_id,
            created_at=now,
        )
        for body in texts
    ]
    async with runtime.db_sessions.begin() as db_session:
        db_session.add_all(rows)
    return [row.id for row in rows]


async def outbound(runtime: Runtime, customer_key: str | None = None) -> list[WhatsAppMessage]:
    """Outbound rows (of one customer), oldest first."""
    query = select(WhatsAppMessage).where(WhatsAppMessage.direction == "out")
    if customer_key is not None:
        query = query.where(WhatsAppMessage.customer_key == customer_key)
    async with runtime.db_sessions() as db_session:
        return list((await db_session.scalars(query.order_by(WhatsAppMessage.id))).all())


def texts_of(requests: list[Any]) -> list[str | None]:
    """The text bodies of recorded Graph requests."""
    return [request.text for request in requests]
