"""The specification's scenarios, on SQL (SQLite, PostgreSQL) and Redis state stores."""

from __future__ import annotations

from sqlalchemy import func, select, update

from convoflow.clock import FakeClock
from convoflow.runtime import Runtime
from convoflow.services.access.setup import delete_expired_states, seed
from convoflow.store import accounts, templates
from convoflow.store.models import ConversationStateRow, TemplatePermission, User, UserType
from tests.services.helpers import customer_key, instances, joined, latest_template, live_state, say

DAY = 86_400  # the default conversation lifetime, in seconds


async def test_two_customers_saying_hi_get_same_menu_and_own_state(seeded: Runtime) -> None:
    ana, ben = (
        await customer_key(seeded, "15550000001", "Ana"),
        await customer_key(seeded, "15550000002", "Ben"),
    )
    ana_menu, ben_menu = await say(ana, "hi"), await say(ben, "Hi ")
    assert ana_menu[0].startswith("Hi Ana!") and ben_menu[0].startswith("Hi Ben!")
    assert ana_menu[1:] == ben_menu[1:]
    assert "  1. New order" in ana_menu
    ana_state, ben_state = (
        await live_state(seeded, "15550000001"),
        await live_state(seeded, "15550000002"),
    )
    assert ana_state is not None and ben_state is not None
    assert ana_state.instance_id != ben_state.instance_id
    assert ana_state.state.current_step == ben_state.state.current_step == "welcome"


async def test_button_click_updates_only_that_customers_state(seeded: Runtime) -> None:
    ana, ben = await customer_key(seeded, "15550000001"), await customer_key(seeded, "15550000002")
    await say(ana, "hi")
    await say(ben, "hi")
    reply = await say(ana, "New order")
    assert "What would you like to order?" in joined(reply)
    ana_state, ben_state = (
        await live_state(seeded, "15550000001"),
        await live_state(seeded, "15550000002"),
    )
    assert ana_state is not None and ana_state.state.template_name == "new_order"
    assert ana_state.state.current_step == "pick_product"
    assert ben_state is not None and ben_state.state.template_name == "main_menu"
    assert ben_state.state.current_step == "welcome"


async def test_full_order_completes_and_counts_statistics(seeded: Runtime) -> None:
    ana = await customer_key(seeded, "15550000003")
    await say(ana, "order")
    assert "How many Cappuccino" in joined(await say(ana, "2"))
    assert "Please send a whole number from 1 to 20." in joined(await say(ana, "lots"))
    assert "3 × Cappuccino" in joined(await say(ana, "3"))
    assert "is confirmed" in joined(await say(ana, "1"))
    assert await live_state(seeded, "15550000003") is None
    [run] = await instances(seeded, "15550000003")
    assert run.status == "completed" and run.completed_at is not None
    assert run.state_data["quantity"] == 3
    assert run.visited_steps[:2] == ["pick_product", "quantity"]
    await seeded.statistics.flush()  # statistics are written by the aggregator, not the turn
    stats = await latest_template(seeded, "new_order")
    assert stats.usage_count == 1 and stats.success_rate == 1.0
    assert stats.last_used_at is not None and stats.avg_response_time_ms >= 0


async def test_admin_update_reaches_new_customers_while_running_one_keeps_old_version(
    seeded: Runtime,
) -> None:
    early = await customer_key(seeded, "15550000010")
    await say(early, "order")
    await say(early, "espresso")
    old = await latest_template(seeded, "new_order")
    changed = dict(old.menu_structure)
    changed["steps"] = [
        {**step, "text": "Enjoy! Order {{quantity}} confirmed (v2)."}
        if step["id"] == "done"
        else step
        for step in old.menu_structure["steps"]
    ]
    async with seeded.db_sessions.begin() as db_session:
        result = await templates.save_new_version(
            db_session, current=old, definition={"menu_structure": changed}, changelog="new text"
        )
    seeded.catalog.invalidate()
    assert result.template.version == 2
    late = await customer_key(seeded, "15550000011")
    await say(late, "order")
    await say(late, "espresso")
    await say(late, "1")
    assert "(v2)" in joined(await say(late, "1"))
    await say(early, "1")
    finished_old = joined(await say(early, "1"))
    assert "is confirmed" in finished_old and "(v2)" not in finished_old
    [early_run] = await instances(seeded, "15550000010")
    assert early_run.template_id == old.id


async def test_customer_writing_after_expiry_starts_fresh_and_cleanup_removes_row(
    seeded: Runtime,
) -> None:
    clock = seeded.clock
    assert isinstance(clock, FakeClock)
    ana = await customer_key(seeded, "15550000020")
    await say(ana, "order")
    await say(ana, "latte")
    clock.advance(DAY + 1)
    reply = await say(ana, "2")
    assert reply == []  # "2" is no trigger: an expired conversation is not resumed
    assert joined(await say(ana, "hi")).startswith("Hi")
    state = await live_state(seeded, "15550000020")
    assert state is not None and state.state.template_name == "main_menu"
    clock.advance(DAY + 1)
    assert await delete_expired_states(seeded.db_sessions, seeded.store, now=clock.now()) >= 1
    assert await live_state(seeded, "15550000020") is None
    async with seeded.db_sessions() as db_session:
        count = (await db_session.execute(select(func.count(ConversationStateRow.id)))).scalar_one()
    assert count == 0


async def test_an_expired_conversations_instance_is_cancelled_on_every_store(
    seeded: Runtime,
) -> None:
    clock = seeded.clock
    assert isinstance(clock, FakeClock)
    ana = await customer_key(seeded, "15550000021")
    await say(ana, "order")
    (running,) = [i for i in await instances(seeded, "15550000021") if i.status == "active"]
    clock.advance(DAY - 60)
    assert await delete_expired_states(seeded.db_sessions, seeded.store, now=clock.now()) == 0
    clock.advance(120)
    assert await delete_expired_states(seeded.db_sessions, seeded.store, now=clock.now()) == 1
    # A second pass (another sweeper, a restart) finds nothing left to do.
    assert await delete_expired_states(seeded.db_sessions, seeded.store, now=clock.now()) == 0
    after = {i.id: i for i in await instances(seeded, "15550000021")}
    assert after[running.id].status == "cancelled"
    assert after[running.id].error == "conversation expired"
    assert await live_state(seeded, "15550000021") is None


async def test_another_templates_trigger_switches_and_cancels_the_old_run(seeded: Runtime) -> None:
    ana = await customer_key(seeded, "15550000030")
    await say(ana, "order")
    reply = joined(await say(ana, "help"))
    assert "How can we help you" in reply
    runs = await instances(seeded, "15550000030")
    assert [(run.status) for run in runs] == ["cancelled", "active"]


async def test_cancel_ends_the_conversation(seeded: Runtime) -> None:
    ana = await customer_key(seeded, "15550000031")
    await say(ana, "loan")
    assert await say(ana, "cancel") != []
    assert await live_state(seeded, "15550000031") is None
    [run] = await instances(seeded, "15550000031")
    assert run.status == "cancelled"


async def test_wrong_answers_are_reasked_then_the_run_gives_up(seeded: Runtime) -> None:
    ana = await customer_key(seeded, "15550000032")
    await say(ana, "menu")
    for _ in range(3):
        assert "Please choose one of the options" in joined(await say(ana, "banana"))
    await say(ana, "banana")
    assert await live_state(seeded, "15550000032") is None
    [run] = await instances(seeded, "15550000032")
    assert run.status == "failed"


async def test_loan_application_reasks_wrong_amount_and_queues_end_action(seeded: Runtime) -> None:
    ana = await customer_key(seeded, "15550000033")
    await say(ana, "loan")
    assert "between 100 and 50,000" in joined(await say(ana, "50"))
    await say(ana, "2500")
    await say(ana, "A new roof")
    assert "received" in joined(await say(ana, "1"))
    [run] = await instances(seeded, "15550000033")
    assert run.status == "completed"
    assert run.state_data["amount"] == 2500 and run.state_data["purpose"] == "A new roof"
    from convoflow.store.models import WorkflowEffect

    async with seeded.db_sessions() as db_session:
        [effect] = (await db_session.execute(select(WorkflowEffect))).scalars().all()
    assert effect.kind == "end_action" and effect.instance_id == run.id
    assert effect.spec["action_type"] == "api_call"
    assert effect.spec["state_data"]["amount"] == 2500


async def test_user_type_gate_blocks_trigger_for_other_customers(seeded: Runtime) -> None:
    async with seeded.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        verified = UserType(owner_id=owner.id, name="verified_users")
        db_session.add(verified)
        await db_session.flush()
        loan = await templates.find_latest(db_session, owner_id=owner.id, name="loan_application")
        assert loan is not None
        db_session.add(TemplatePermission(user_type_id=verified.id, workflow_template_id=loan.id))
    seeded.catalog.invalidate()
    stranger = await customer_key(seeded, "15550000040")
    assert await say(stranger, "loan") == []
    assert await live_state(seeded, "15550000040") is None


async def test_owner_fallback_template_answers_unknown_text(seeded: Runtime) -> None:
    async with seeded.db_sessions.begin() as db_session:
        await db_session.execute(
            update(User).where(User.username == "admin").values(fallback_template_name="main_menu")
        )
    seeded.catalog.invalidate()
    ana = await customer_key(seeded, "15550000041")
    assert joined(await say(ana, "good morning")).startswith("Hi")


async def test_seed_again_changes_nothing(seeded: Runtime) -> None:
    report = await seed(seeded.db_sessions)
    assert report.created == [] and report.updated == []
    assert len(report.unchanged) == 5


async def test_seed_again_keeps_an_owners_own_version_of_a_built_in(seeded: Runtime) -> None:
    async with seeded.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        current = await templates.find_latest(
            db_session, owner_id=owner.id, name="loan_application"
        )
        assert current is not None
        mine = {"template_name": current.template_name} | {
            field: getattr(current, field) for field in templates.DEFINITION_FIELDS
        }
        mine["description"] = "our own loan questions"
        saved = await templates.save_new_version(
            db_session, current=current, definition=mine, changelog="reworded"
        )
        assert saved.action == "updated"

    report = await seed(seeded.db_sessions)

    assert report.updated == [] and "loan_application" in report.unchanged
    async with seeded.db_sessions() as db_session:
        latest = await templates.find_latest(db_session, owner_id=owner.id, name="loan_application")
        assert latest is not None
        assert (latest.version, latest.description) == (
            current.version + 1,
            "our own loan questions",
        )


async def test_templates_connecting_in_a_ring_stop_after_a_bounded_number_of_hops(
    seeded: Runtime,
) -> None:
    async with seeded.db_sessions.begin() as db_session:
        owner = await accounts.get_user(db_session, "admin")
        for name, other in (("ping", "pong"), ("pong", "ping")):
            await templates.create_template(
                db_session,
                owner_id=owner.id,
                definition={
                    "template_name": name,
                    "trigger_keywords": [name],
                    "menu_structure": {
                        "start": "say",
                        "steps": [
                            {"id": "say", "type": "message", "text": name, "next": "go"},
                            {"id": "go", "type": "connect", "template": other},
                        ],
                    },
                },
            )
    seeded.catalog.invalidate()
    ana = await customer_key(seeded, "15550000050")
    replies = await say(ana, "ping")
    assert replies[:4] == ["ping", "pong", "ping", "pong"]
    assert 2 < len(replies) <= 10
    assert await live_state(seeded, "15550000050") is None
