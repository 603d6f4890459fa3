"""Opt-out and opt-in words, replies that start a template, statuses from webhooks, replies
before campaign rows, and the template table kept in step by sync and webhooks."""

from __future__ import annotations

from sqlalchemy import select

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.runtime import Runtime
from convoflow.services.access.callers import Caller
from convoflow.services.campaigns.scheduler import TickReport
from convoflow.services.inbox.early_statuses import apply_webhook_statuses
from convoflow.services.inbox.intake import StatusRecord
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.services.templates import admin as templates_admin
from convoflow.store.models import Contact, MessageTemplate, WhatsAppMessage
from tests.campaigns.conftest import WABA_ID
from tests.campaigns.helpers import (
    PROMO,
    campaign,
    campaign_with,
    csv_of,
    customer_writes,
    deliver,
    numbers,
    recipients,
    statuses,
    synced,
    template,
    tick,
)
from tests.jobs.helpers import add_contact, outbound, owner_id, queue_texts
from tests.support.graph_stub import GraphStub


async def contact(runtime: Runtime, customer_key: str) -> Contact:
    async with runtime.db_sessions() as db_session:
        return (
            await db_session.scalars(select(Contact).where(Contact.customer_key == customer_key))
        ).one()


async def test_stop_opts_out_withdraws_the_queued_row_and_confirms(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    stopper, other = numbers(2)
    campaign_id = await campaign_with(runtime, csv_of([stopper, other]))
    report: TickReport = await tick(runtime)
    assert report.queued == 2
    await customer_writes(runtime, stopper, "stop")
    await deliver(runtime)
    await tick(runtime)

    assert (await statuses(runtime, campaign_id)) == {stopper: "opted_out", other: "sent"}
    opted = await contact(runtime, stopper)
    assert opted.opted_out and opted.opt_out_source == "keyword:STOP"
    assert opted.opted_out_at == runtime.clock.now()
    to_stopper = graph_stub.sent_to(f"+{stopper}")
    assert [request.json["type"] for request in to_stopper] == ["text"]
    assert "no longer receive" in (to_stopper[0].text or "")


async def test_an_opted_out_contact_is_left_out_of_a_new_audience(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    stopper, other = numbers(2)
    await customer_writes(runtime, stopper, "UNSUBSCRIBE")
    campaign_id = await campaign_with(runtime, csv_of([stopper, other]))
    assert set(await statuses(runtime, campaign_id)) == {other}
    assert (await campaign(runtime, campaign_id)).audience["opted_out"] == 1


async def test_start_opts_back_in_only_who_opted_out(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    stopper, regular = numbers(2)
    await customer_writes(runtime, stopper, "STOP")
    await customer_writes(runtime, stopper, "START")
    back = await contact(runtime, stopper)
    assert not back.opted_out and back.opted_out_at is None
    await customer_writes(runtime, regular, "START")  # the main menu's trigger, as before
    await deliver(runtime)
    replies = [request.json for request in graph_stub.sent_to(f"+{regular}")]
    assert replies and replies[0]["type"] == "interactive"
    confirmations = [request.text for request in graph_stub.sent_to(f"+{stopper}")]
    assert any("again" in (body or "") for body in confirmations)
    assert not any(
        request.json["type"] == "interactive" for request in graph_stub.sent_to(f"+{stopper}")[1:]
    )


async def test_a_reply_starts_the_chosen_template_with_campaign_variables(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    owner = await owner_id(runtime)
    async with runtime.db_sessions() as db_session:
        await templates_admin.create_template(
            db_session,
            runtime.catalog,
            caller=Caller(id=owner, username="admin"),
            document={
                "template_name": "sale_followup",
                # A reply template declares the variables a campaign reply brings.
                "default_params": {"campaign": {"name": ""}, "recipient": {}},
                "menu_structure": {
                    "start": "thanks",
                    "steps": [
                        {
                            "id": "thanks",
                            "type": "end",
                            "text": (
                                "{{campaign.name}}: {{recipient.discount}} in {{recipient.city}}"
                            ),
                        }
                    ],
                },
            },
        )
    (customer,) = numbers(1)
    campaign_id = await campaign_with(
        runtime, csv_of([customer], city="Nantes"), reply_template="sale_followup"
    )
    await tick(runtime)
    await deliver(runtime)
    await tick(runtime)
    await customer_writes(runtime, customer, "Tell me more")
    await deliver(runtime)
    texts = [request.text for request in graph_stub.sent_to(f"+{customer}")]
    assert texts[-1] == "Spring: 20% in Nantes"
    row = (await recipients(runtime, campaign_id))[customer]
    assert row.status == "replied" and row.replied_at is not None


async def test_recipient_statuses_follow_status_webhooks_forward_only(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    (customer,) = numbers(1)
    campaign_id = await campaign_with(runtime, csv_of([customer]))
    await tick(runtime)
    await deliver(runtime)
    wamid = graph_stub.sent[0].wamid
    assert wamid is not None
    now = runtime.clock.now()
    for state in ("read", "delivered", "sent"):  # out of order: read wins
        async with runtime.db_sessions.begin() as db_session:
            await apply_webhook_statuses(db_session, [StatusRecord(wamid, state)], now=now)
        await tick(runtime)
    row = (await recipients(runtime, campaign_id))[customer]
    assert row.status == "read"
    assert row.sent_at is not None and row.delivered_at is not None and row.read_at is not None


async def test_a_reply_queued_after_campaign_rows_goes_out_first(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    (customer,) = numbers(1)
    await add_contact(runtime, customer)
    await campaign_with(runtime, csv_of([customer]))
    await tick(runtime)
    await queue_texts(runtime, customer, ["your order shipped"])
    rows = await outbound(runtime, customer)
    assert [row.priority for row in rows] == [1, 0]  # the campaign row is older
    runtime.clock.advance(60)  # type: ignore[attr-defined]  # queue_texts used real time
    await deliver(runtime)
    assert [request.json["type"] for request in graph_stub.sent] == ["text", "template"]


async def test_the_send_lane_serves_replies_before_campaign_customers(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    await synced(runtime, graph_stub)
    lane = runtime.jobs.sending
    campaign_customers = numbers(30)
    await campaign_with(runtime, csv_of(campaign_customers))
    report = await tick(runtime)
    (replying,) = numbers(1, start=500)
    await add_contact(runtime, replying)
    await queue_texts(runtime, replying, ["hello"])
    runtime.clock.advance(60)  # type: ignore[attr-defined]  # queue_texts used real time
    owner = await owner_id(runtime)
    # Campaign customers first, the reply last, all before any lane worker runs.
    for campaign_owner, key in report.customers:
        lane.request(campaign_owner, key, background=True)
    lane.request(owner, replying)
    await lane.wait_idle()
    # On a busy machine a campaign row may find no spare rate and be deferred to a retry due
    # on the fake clock; moving the clock and delivering again sends what was held back.
    for _ in range(5):
        if len(graph_stub.sent) == 31:
            break
        runtime.clock.advance(60)  # type: ignore[attr-defined]
        await deliver(runtime)
    order = [request.to for request in graph_stub.sent]
    assert len(order) == 31
    assert order[0] == f"+{replying}"


async def test_sync_reads_every_page_and_webhooks_update_and_pause(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    graph_stub.template_page_size = 2
    await synced(
        runtime, graph_stub, PROMO, template("a"), template("b"), template("c", status="REJECTED")
    )
    async with runtime.db_sessions() as db_session:
        rows = {row.name: row for row in (await db_session.scalars(select(MessageTemplate))).all()}
    assert set(rows) == {"spring_sale", "a", "b", "c"}
    promo = rows["spring_sale"]
    assert (promo.category, promo.quality_rating, promo.parameter_count) == (
        "MARKETING",
        "GREEN",
        3,
    )
    assert promo.parameters == {"body": ["1", "2", "3"]}
    requests = [r for r in graph_stub.requests if "message_templates" in r.path]
    assert len(requests) == 2

    campaign_id = await campaign_with(runtime, csv_of(numbers(2)))
    await tick(runtime)
    notice = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "PAUSED",
                            "message_template_id": 9001,
                            "message_template_name": "spring_sale",
                            "message_template_language": "en_US",
                            "reason": "NONE",
                        },
                    }
                ],
            }
        ],
    }
    await receive_webhook(
        runtime.db_sessions,
        PhoneNumberDirectory(runtime.db_sessions),
        parse_webhook(notice),
        now=runtime.clock.now(),
    )
    paused = await campaign(runtime, campaign_id)
    assert paused.status == "paused"
    assert paused.paused_reason == "template spring_sale (en_US): status PAUSED"
    await deliver(runtime)
    assert not [r for r in graph_stub.sent if r.json["type"] == "template"]
    async with runtime.db_sessions() as db_session:
        promo_now = (
            await db_session.scalars(
                select(MessageTemplate).where(MessageTemplate.name == "spring_sale")
            )
        ).one()
        queued = (await db_session.scalars(select(WhatsAppMessage))).all()
    assert promo_now.status == "PAUSED"
    assert {row.error_text for row in queued} == {"withdrawn: campaign paused"}


async def test_campaigns_and_template_steps_are_checked_against_synced_templates(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    from convoflow.errors import InvalidData

    await synced(runtime, graph_stub)
    for mapping, name in (({"body": ["only one"]}, "spring_sale"), ({}, "unknown_template")):
        try:
            await campaign_with(runtime, csv_of(numbers(1)), mapping=mapping, template_name=name)
        except InvalidData as problem:
            assert problem.field in ("parameters.body", "template.name")
        else:
            raise AssertionError("the campaign should have been refused")


async def test_template_steps_must_match_a_synced_template(
    runtime: Runtime, graph_stub: GraphStub
) -> None:
    from convoflow.engine import TemplateInvalid

    await synced(runtime, graph_stub)
    caller = Caller(id=await owner_id(runtime), username="admin")

    def document(name: str, parameters: list[str]) -> dict[str, object]:
        step = {"id": "promo", "type": "template", "name": name, "parameters": parameters}
        return {
            "template_name": f"uses_{name}_{len(parameters)}",
            "menu_structure": {
                "start": "promo",
                "steps": [{**step, "next": "done"}, {"id": "done", "type": "end"}],
            },
        }

    async with runtime.db_sessions() as db_session:
        saved = await templates_admin.create_template(
            db_session,
            runtime.catalog,
            caller=caller,
            document=document("spring_sale", ["a", "b", "c"]),
        )
    assert saved.action == "created"
    for name, parameters in (("spring_sale", ["a"]), ("nope", [])):
        async with runtime.db_sessions() as db_session:
            try:
                await templates_admin.create_template(
                    db_session, runtime.catalog, caller=caller, document=document(name, parameters)
                )
            except TemplateInvalid as invalid:
                assert invalid.problems[0].step == "promo"
            else:
                raise AssertionError(f"{name} with {parameters} should be refused")
