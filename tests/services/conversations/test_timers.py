"""Step timers through the services, on SQL (SQLite, PostgreSQL) and Redis state stores.

The customer talks through the real message path; timers are fired with a chosen ``now``
instead of waiting for them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from convoflow.runtime import Runtime
from convoflow.services.inbox.intake import InboundRecord, store_inbound
from convoflow.store import accounts, templates
from convoflow.store.models import WhatsAppMessage
from convoflow.store.types import new_id
from tests.services.helpers import customer_key, instances, live_state, say
from tests.support.timer_templates import CALLBACK_WITH_REMINDER

REMINDER = CALLBACK_WITH_REMINDER


async def add_template(runtime: Runtime, definition: dict[str, Any] = REMINDER) -> None:
    async with runtime.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        await templates.create_template(db_session, owner_id=owner.id, definition=definition)


async def asked_at(runtime: Runtime, phone: str) -> datetime:
    """When the customer was last asked (the live timer is due 30 minutes after it)."""
    live = await live_state(runtime, phone)
    assert live is not None and live.state.timer is not None
    return live.state.timer.due_at - timedelta(minutes=30)


async def outbox(runtime: Runtime, phone: str, step_id: str) -> list[str]:
    """The texts queued for the customer by one step, oldest first."""
    async with runtime.db_sessions() as db_session:
        rows = await db_session.scalars(
            select(WhatsAppMessage)
            .where(
                WhatsAppMessage.customer_key == phone,
                WhatsAppMessage.direction == "out",
                WhatsAppMessage.step_id == step_id,
            )
            .order_by(WhatsAppMessage.id)
        )
        return [row.payload["text"]["body"] for row in rows]


async def test_unanswered_question_gets_one_reminder_when_its_timeout_passes(
    seeded: Runtime,
) -> None:
    await add_template(seeded)
    ana = await customer_key(seeded, "15550100001")
    assert await say(ana, "callback") == ["Who should we call back?"]
    asked = await asked_at(seeded, "15550100001")

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=29)) == []
    assert await outbox(seeded, "15550100001", "reminder") == []

    [fired] = await seeded.timers.fire_due(now=asked + timedelta(minutes=31))
    assert (fired.customer_key, [m.step_id for m in fired.turn.messages]) == (
        "15550100001",
        ["reminder", "name"],
    )
    assert await outbox(seeded, "15550100001", "reminder") == ["Still there?"]

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=31)) == []
    assert await outbox(seeded, "15550100001", "reminder") == ["Still there?"]
    live = await live_state(seeded, "15550100001")
    assert live is not None and live.state.current_step == "name"
    assert live.state.timer is not None
    assert live.state.timer.due_at == asked + timedelta(minutes=61)  # asked again at +31m


async def test_customer_who_answers_in_time_gets_no_reminder(seeded: Runtime) -> None:
    await add_template(seeded)
    ben = await customer_key(seeded, "15550100002", "Ben")
    await say(ben, "callback")
    asked = await asked_at(seeded, "15550100002")
    assert await say(ben, "Ben") == ["Thanks Ben, we'll call you."]

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=31)) == []
    assert await outbox(seeded, "15550100002", "reminder") == []
    [run] = await instances(seeded, "15550100002")
    assert run.status == "completed"


async def test_an_answer_stored_before_the_timeout_goes_first(seeded: Runtime) -> None:
    await add_template(seeded)
    hal = await customer_key(seeded, "15550100008", "Hal")
    await say(hal, "callback")
    asked = await asked_at(seeded, "15550100008")
    answer = InboundRecord(
        owner_id=hal.owner_id,
        phone_number_id="terminal",
        wamid=f"wamid.{new_id()}",
        customer_key="15550100008",
        wa_id="15550100008",
        bsuid=None,
        profile_name="Hal",
        type="text",
        payload={"type": "text", "text": {"body": "Hal"}},
        sent_at=seeded.clock.now(),
    )
    async with seeded.db_sessions.begin() as db_session:  # stored, its processing not yet run
        await store_inbound(db_session, [answer], now=seeded.clock.now())

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=31)) == []
    [turn] = await seeded.processor.process_customer(hal.owner_id, "15550100008")
    assert [m.body["text"]["body"] for m in turn.messages] == ["Thanks Hal, we'll call you."]
    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=32)) == []
    assert await outbox(seeded, "15550100008", "reminder") == []


async def test_a_timer_does_not_extend_the_conversation(seeded: Runtime) -> None:
    await add_template(seeded)
    cleo = await customer_key(seeded, "15550100003", "Cleo")
    await say(cleo, "callback")
    before = await live_state(seeded, "15550100003")
    assert before is not None
    await seeded.timers.fire_due(now=await asked_at(seeded, "15550100003") + timedelta(hours=1))
    after = await live_state(seeded, "15550100003")
    assert after is not None
    assert (after.expires_at, after.last_interaction) == (
        before.expires_at,
        before.last_interaction,
    )


async def test_expired_conversations_do_not_fire(seeded: Runtime) -> None:
    await add_template(seeded, {**REMINDER, "session_ttl_seconds": 600})
    dan = await customer_key(seeded, "15550100004", "Dan")
    await say(dan, "callback")
    asked = await asked_at(seeded, "15550100004")

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=31)) == []
    assert await outbox(seeded, "15550100004", "reminder") == []
    assert await seeded.timers.due(now=asked + timedelta(minutes=31)) == []


async def test_a_restarted_process_fires_the_timers_armed_before(seeded: Runtime) -> None:
    await add_template(seeded)
    eve = await customer_key(seeded, "15550100005", "Eve")
    await say(eve, "callback")
    asked = await asked_at(seeded, "15550100005")

    restarted = Runtime.build(seeded.settings)
    try:
        fired = await restarted.timers.fire_due(now=asked + timedelta(minutes=31))
    finally:
        await restarted.close()
    assert [timer.customer_key for timer in fired] == ["15550100005"]
    assert await outbox(seeded, "15550100005", "reminder") == ["Still there?"]


async def test_two_processes_firing_the_same_timer_send_the_reminder_once(
    seeded: Runtime,
) -> None:
    await add_template(seeded)
    fay = await customer_key(seeded, "15550100006", "Fay")
    await say(fay, "callback")
    late = await asked_at(seeded, "15550100006") + timedelta(minutes=31)
    # Another process on PostgreSQL; the embedded SQLite setup is one process.
    other = Runtime.build(seeded.settings) if seeded.settings.is_postgres else seeded
    try:
        # Both saw the timer due before either fired it, as two sweepers at once would.
        [seen], [seen_too] = await seeded.timers.due(now=late), await other.timers.due(now=late)
        assert seen == seen_too
        results = await asyncio.gather(
            *(
                runtime.timers.fire(
                    seen.owner_id, seen.customer_key, now=late, timer_id=seen.timer_id
                )
                for runtime in (seeded, other, seeded, other)
            )
        )
    finally:
        if other is not seeded:
            await other.close()
    assert len([turn for turn in results if turn is not None]) == 1
    assert await outbox(seeded, "15550100006", "reminder") == ["Still there?"]


async def test_a_timer_of_a_conversation_that_was_reset_never_fires(
    seeded: Runtime,
) -> None:
    await add_template(seeded)
    gus = await customer_key(seeded, "15550100007", "Gus")
    await say(gus, "callback")
    asked = await asked_at(seeded, "15550100007")
    async with seeded.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        await seeded.store.delete(db_session, owner_id=owner.id, customer_key="15550100007")

    assert await seeded.timers.fire_due(now=asked + timedelta(minutes=31)) == []
    assert await outbox(seeded, "15550100007", "reminder") == []
