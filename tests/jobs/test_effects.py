"""Effects run for real: an http step's call resumes the conversation, end actions post."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.jobs.backoff import Backoff
from convoflow.runtime import Runtime
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.store import templates
from convoflow.store.models import WorkflowEffect, WorkflowInstance
from tests.jobs.helpers import owner_id
from tests.jobs.outside_api import OutsideApi
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import END_ACTION_SECRET, change, eventually, text, webhook

CUSTOMER = "15550002222"


def lookup_template(base_url: str, *, on_failure: bool = True) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": "call",
        "type": "http",
        "method": "POST",
        "url": base_url + "/orders",
        "body": {"who": "{{contact.phone}}"},
        "save_as": "answer",
        "max_attempts": 3,
        "next": "done",
    }
    steps = [call, {"id": "done", "type": "end", "text": "Your order is {{answer.status}}."}]
    if on_failure:
        call["on_failure"] = "sorry"
        steps.append({"id": "sorry", "type": "end", "end_action": False, "text": "No answer."})
    return {
        "template_name": "lookup",
        "trigger_keywords": ["check"],
        "menu_structure": {"start": "call", "steps": steps},
        "end_action_type": "api_call",
        "end_action_target": {
            "endpoint": base_url + "/hook",
            "method": "POST",
            "headers": {"X-Api-Key": "k-123"},
            "max_attempts": 2,
        },
    }


@pytest.fixture
async def runtime(app_runtime: Runtime) -> AsyncIterator[Runtime]:
    """Fast effect retries, and a sweeper picking them up."""
    app_runtime.jobs.effects.backoff = Backoff(base_seconds=0.01, cap_seconds=0.05)
    stop = asyncio.Event()
    sweeper = asyncio.create_task(app_runtime.sweeper.run(stop, interval=0.05))
    yield app_runtime
    stop.set()
    await sweeper


async def create(runtime: Runtime, definition: dict[str, Any]) -> None:
    owner = await owner_id(runtime)
    async with runtime.db_sessions.begin() as db_session:
        await templates.create_template(db_session, owner_id=owner, definition=definition)
    runtime.catalog.invalidate()


async def customer_says(runtime: Runtime, words: str) -> None:
    parsed = parse_webhook(webhook(change([text(CUSTOMER, words)])))
    received = await receive_webhook(
        runtime.db_sessions,
        PhoneNumberDirectory(runtime.db_sessions),
        parsed,
        now=runtime.clock.now(),
    )
    await runtime.dispatcher.customers_received(received.customers)


async def instance(runtime: Runtime) -> WorkflowInstance:
    async with runtime.db_sessions() as db_session:
        return (await db_session.scalars(select(WorkflowInstance))).one()


async def instance_status(runtime: Runtime) -> str | None:
    async with runtime.db_sessions() as db_session:
        return (await db_session.scalars(select(WorkflowInstance.status))).first()


async def effects(runtime: Runtime) -> list[WorkflowEffect]:
    async with runtime.db_sessions() as db_session:
        return list((await db_session.scalars(select(WorkflowEffect).order_by("created_at"))).all())


async def test_http_step_answer_resumes_the_conversation_and_end_action_posts_signed(
    runtime: Runtime, graph_stub: GraphStub, outside_api: OutsideApi
) -> None:
    await create(runtime, lookup_template(outside_api.url))

    await customer_says(runtime, "check")

    [reply] = await graph_stub.wait_for_async(1, timeout=30)
    assert reply.text == "Your order is shipped."
    [call] = outside_api.calls_to("/orders")
    assert call.method == "POST" and call.json == {"who": CUSTOMER}

    async def end_action_done() -> bool:
        async with runtime.db_sessions() as db_session:
            result = await db_session.scalar(select(WorkflowInstance.end_action_result))
        return result is not None

    await eventually(end_action_done, what="the end action result")
    [hook] = outside_api.calls_to("/hook")
    done = await instance(runtime)
    assert hook.json == {
        "instance": done.id,
        "template": "lookup",
        "template_id": done.template_id,
        "template_version": 1,
        "family_id": done.template_id,
        "state_data": {"answer": {"status": "shipped"}},
    }
    assert hook.headers["idempotency-key"] == done.id
    assert hook.headers["x-api-key"] == "k-123"
    expected = hmac.new(END_ACTION_SECRET.encode(), hook.raw, hashlib.sha256).hexdigest()
    assert hook.headers["x-convoflow-signature"] == f"sha256={expected}"
    assert done.status == "completed"
    assert done.end_action_result == {
        "status_code": 200,
        "body": '{"status": "shipped"}',
        "attempts": 1,
    }
    assert [(e.kind, e.status) for e in await effects(runtime)] == [
        ("http", "done"),
        ("end_action", "done"),
    ]


async def test_http_step_is_retried_with_backoff_then_succeeds(
    runtime: Runtime, graph_stub: GraphStub, outside_api: OutsideApi
) -> None:
    await create(runtime, lookup_template(outside_api.url))
    outside_api.answer_next(2, 503, {"error": "busy"}, Retry_After="0")

    await customer_says(runtime, "check")

    [reply] = await graph_stub.wait_for_async(1, timeout=30)
    assert reply.text == "Your order is shipped."
    assert len(outside_api.calls_to("/orders")) == 3
    http_effect = (await effects(runtime))[0]
    assert http_effect.status == "done" and http_effect.attempts == 3


async def test_http_step_failing_for_good_takes_the_failure_route(
    runtime: Runtime, graph_stub: GraphStub, outside_api: OutsideApi
) -> None:
    await create(runtime, lookup_template(outside_api.url))
    outside_api.answer_next(1, 404, {"error": "no such order"})

    await customer_says(runtime, "check")

    [reply] = await graph_stub.wait_for_async(1, timeout=30)
    assert reply.text == "No answer."
    assert len(outside_api.calls_to("/orders")) == 1  # a 404 is not retried
    http_effect = (await effects(runtime))[0]
    assert http_effect.status == "failed" and http_effect.error == "HTTP 404"


async def test_end_action_that_keeps_failing_fails_the_instance(
    runtime: Runtime, graph_stub: GraphStub, outside_api: OutsideApi
) -> None:
    await create(runtime, lookup_template(outside_api.url))
    outside_api.answer_next(1, 200, {"status": "shipped"})  # the http step
    outside_api.answer_next(2, 500, {"error": "down"})  # both end-action attempts

    await customer_says(runtime, "check")

    async def instance_failed() -> bool:
        return await instance_status(runtime) == "failed"

    await eventually(instance_failed, what="the instance to fail")
    failed = await instance(runtime)
    assert failed.error == "end action failed: HTTP 500"
    assert failed.end_action_result == {
        "status_code": 500,
        "body": '{"error": "down"}',
        "attempts": 2,
    }
    assert len(outside_api.calls_to("/hook")) == 2


async def test_effect_rows_of_unknown_kinds_are_left_alone(runtime: Runtime) -> None:
    owner = await owner_id(runtime)
    async with runtime.db_sessions.begin() as db_session:
        row = await templates.create_template(
            db_session,
            owner_id=owner,
            definition={
                "template_name": "t",
                "menu_structure": {"start": "a", "steps": [{"id": "a", "type": "end"}]},
            },
        )
        run = WorkflowInstance(owner_id=owner, template_id=row.id, status="waiting")
        db_session.add(run)
        await db_session.flush()
        effect = WorkflowEffect(
            owner_id=owner, instance_id=run.id, effect_id="x", kind="future", spec={}
        )
        db_session.add(effect)

    assert await runtime.jobs.effects.run(effect.id) is None
    report = await runtime.sweeper.sweep_once(grace_seconds=0)
    assert report.effects == 0
    [untouched] = await effects(runtime)
    assert untouched.status == "pending" and untouched.attempts == 0
