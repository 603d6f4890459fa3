"""The sweeper finds what a crash left behind, and cleans up expired conversations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.jobs.dispatcher import Dispatcher
from convoflow.jobs.sweeper import Sweeper
from convoflow.runtime import Runtime
from convoflow.services.conversations.customers import customer_of
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.store import templates
from convoflow.store.models import ConversationStateRow, WhatsAppMessage, WorkflowInstance
from convoflow.store.types import utcnow
from tests.jobs.helpers import add_contact, outbound, queue_texts
from tests.support.graph_stub import GraphStub
from tests.support.timer_templates import CALLBACK_WITH_REMINDER
from tests.support.webhooks import change, eventually, text, webhook


class RecordingDispatcher(Dispatcher):
    """Records kicks instead of running them."""

    def __init__(self) -> None:
        self.kicks: list[tuple[str, ...]] = []

    async def customers_received(self, customers: Iterable[tuple[str, str]]) -> None:
        self.kicks.extend(("process", *pair) for pair in customers)

    async def deliver(self, owner_id: str, customer_key: str) -> None:
        self.kicks.append(("deliver", owner_id, customer_key))

    async def run_effects(self, effect_row_ids: Iterable[str]) -> None:
        self.kicks.extend(("effect", effect_id) for effect_id in effect_row_ids)

    async def fire_timers(self, conversations: Iterable[tuple[str, str]]) -> None:
        self.kicks.extend(("timer", *pair) for pair in conversations)


async def store_without_processing(runtime: Runtime, customer_key: str, words: str) -> None:
    """What a crash right after the webhook's commit leaves: a `received` row, no job."""
    parsed = parse_webhook(webhook(change([text(customer_key, words)])))
    await receive_webhook(
        runtime.db_sessions,
        PhoneNumberDirectory(runtime.db_sessions),
        parsed,
        now=runtime.clock.now(),
    )


async def test_messages_left_pending_by_a_crash_are_processed_and_answered(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await store_without_processing(app_runtime, "15550003333", "hi")

    assert (await app_runtime.sweeper.sweep_once()).inbound == 0  # still within the grace
    report = await app_runtime.sweeper.sweep_once(grace_seconds=0)

    assert report.inbound == 1
    [reply] = await graph_stub.wait_for_async(1, timeout=30)
    assert reply.to == "+15550003333" and reply.json["type"] == "interactive"


async def test_due_outbound_rows_nobody_sent_are_delivered(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await add_contact(app_runtime, "15550004444")
    await queue_texts(app_runtime, "15550004444", ["left behind"])
    await queue_texts(app_runtime, "15550004444", ["printed"], phone_number_id="terminal")

    report = await app_runtime.sweeper.sweep_once(grace_seconds=0)

    assert report.outbound == 1
    [sent] = await graph_stub.wait_for_async(1, timeout=30)
    assert sent.text == "left behind"


async def test_a_kick_is_not_repeated_while_the_work_is_unchanged(app_runtime: Runtime) -> None:
    await add_contact(app_runtime, "15550005555")
    await queue_texts(app_runtime, "15550005555", ["waiting"])
    dispatcher = RecordingDispatcher()
    sweeper = Sweeper(db_sessions=app_runtime.db_sessions, dispatcher=dispatcher)

    await sweeper.sweep_once(grace_seconds=0)
    await sweeper.sweep_once(grace_seconds=0)
    assert len(dispatcher.kicks) == 1

    async with app_runtime.db_sessions.begin() as db_session:  # rescheduled: a new kick is due
        await db_session.execute(update(WhatsAppMessage).values(next_attempt_at=utcnow()))
    await sweeper.sweep_once(grace_seconds=0)
    assert len(dispatcher.kicks) == 2


async def test_sweepers_of_several_processes_share_their_kicks_through_redis(
    app_runtime: Runtime, redis_client: Redis
) -> None:
    await add_contact(app_runtime, "15550006666")
    await queue_texts(app_runtime, "15550006666", ["once"])
    first, second = RecordingDispatcher(), RecordingDispatcher()
    sweepers = [
        Sweeper(db_sessions=app_runtime.db_sessions, dispatcher=dispatcher, redis=redis_client)
        for dispatcher in (first, second)
    ]

    for sweeper in sweepers:
        await sweeper.sweep_once(grace_seconds=0)

    assert len(first.kicks) + len(second.kicks) == 1


async def test_with_redis_one_process_sweeps_per_interval(
    app_runtime: Runtime, redis_client: Redis
) -> None:
    sweepers = [
        Sweeper(
            db_sessions=app_runtime.db_sessions,
            dispatcher=RecordingDispatcher(),
            redis=redis_client,
        )
        for _ in range(3)
    ]

    # A long interval, so the lease cannot run out while the test looks.
    turns = [await sweeper.takes_turn(interval=600) for sweeper in sweepers]

    assert turns == [True, False, False]
    assert await Sweeper(
        db_sessions=app_runtime.db_sessions, dispatcher=RecordingDispatcher()
    ).takes_turn(interval=600)  # without Redis the one process always sweeps


async def test_expired_conversations_are_removed_and_their_runs_cancelled(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    for customer_key in ("15550007777", "15550008888"):
        await store_without_processing(app_runtime, customer_key, "hi")
        await app_runtime.jobs.handle_customer(*await pending_customer(app_runtime, customer_key))
    async with app_runtime.db_sessions.begin() as db_session:
        await db_session.execute(
            update(ConversationStateRow)
            .where(ConversationStateRow.phone_number == "15550007777")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    report = await app_runtime.sweeper.sweep_once()

    assert report.expired == 1
    async with app_runtime.db_sessions() as db_session:
        states = (await db_session.scalars(select(ConversationStateRow.phone_number))).all()
        runs = {
            run.user_id: (run.status, run.error)
            for run in (await db_session.scalars(select(WorkflowInstance))).all()
        }
    assert states == ["15550008888"]
    assert runs == {
        "15550007777": ("cancelled", "conversation expired"),
        "15550008888": ("active", None),
    }


async def test_a_lost_first_send_is_retried_by_the_sweeper(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await add_contact(app_runtime, "15550009999")
    await queue_texts(app_runtime, "15550009999", ["after the crash"])
    async with app_runtime.db_sessions.begin() as db_session:  # a sender claimed it, then died
        await db_session.execute(
            update(WhatsAppMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )

    await app_runtime.sweeper.sweep_once(grace_seconds=0)

    async def delivered() -> bool:
        return [row.status for row in await outbound(app_runtime, "15550009999")] == ["sent"]

    await eventually(delivered, what="the claimed row to be delivered")


async def pending_customer(runtime: Runtime, customer_key: str) -> tuple[str, str]:
    async with runtime.db_sessions() as db_session:
        owner = await db_session.scalar(
            select(WhatsAppMessage.owner_id).where(WhatsAppMessage.customer_key == customer_key)
        )
    assert owner is not None
    return owner, customer_key


CALLBACK = CALLBACK_WITH_REMINDER


async def asked_callback(runtime: Runtime, customer_key: str, *, at: datetime) -> str:
    """The customer's conversation started (and asked) at ``at``; returns the owner id."""
    owner = await add_contact(runtime, customer_key)
    async with runtime.db_sessions.begin() as db_session:
        await templates.create_template(db_session, owner_id=owner, definition=CALLBACK)
    async with runtime.db_sessions() as db_session:
        async with runtime.locks.hold(db_session, owner_id=owner, customer_key=customer_key):
            ref = await runtime.catalog.by_name(db_session, owner_id=owner, name="callback")
            assert ref is not None
            who = await customer_of(db_session, owner, customer_key)
            _, live = await runtime.conversations.start(db_session, who, ref, {}, now=at)
            await runtime.store.commit(db_session, live)
    return owner


async def test_due_step_timers_are_kicked_once(app_runtime: Runtime) -> None:
    asked = app_runtime.clock.now()
    owner = await asked_callback(app_runtime, "15550001212", at=asked)
    dispatcher = RecordingDispatcher()
    sweeper = Sweeper(
        db_sessions=app_runtime.db_sessions, dispatcher=dispatcher, timers=app_runtime.timers
    )

    assert (await sweeper.sweep_once(now=asked + timedelta(minutes=29))).timers == 0
    assert (await sweeper.sweep_once(now=asked + timedelta(minutes=31))).timers == 1
    await sweeper.sweep_once(now=asked + timedelta(minutes=32))

    assert [kick for kick in dispatcher.kicks if kick[0] == "timer"] == [
        ("timer", owner, "15550001212")
    ]


async def test_a_step_timer_is_fired_by_the_sweeper_and_the_reminder_delivered(
    app_runtime: Runtime, graph_stub: GraphStub
) -> None:
    await asked_callback(
        app_runtime, "15550001313", at=app_runtime.clock.now() - timedelta(minutes=31)
    )

    report = await app_runtime.sweeper.sweep_once(grace_seconds=0)

    assert report.timers == 1
    sent = await graph_stub.wait_for_async(3, timeout=30)
    assert [request.text for request in sent] == [
        "Who should we call back?",
        "Still there?",
        "Who should we call back?",
    ]
    assert (await app_runtime.sweeper.sweep_once(grace_seconds=0)).timers == 0
