"""A model turn that outlasts the effect claim's lease still calls the model once.

The runner renews its claim while the turn runs; here the lease is 3 s and the stand-in
model holds its answer until the test has seen the lease renewed past its first end and
has tried (and failed) to take the row over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from convoflow.store.models import LlmCall, WorkflowEffect
from tests.ai.conftest import AiApp
from tests.ai.helpers import assistant, create_template, replies, text_of
from tests.support.llm_stub import text
from tests.support.webhooks import eventually

LEASE_SECONDS = 3.0


async def the_turn(app: AiApp) -> WorkflowEffect:
    async with app.runtime.db_sessions() as db_session:
        return (await db_session.scalars(select(WorkflowEffect))).one()


async def test_a_turn_longer_than_the_claim_calls_the_model_once(patient_app: AiApp) -> None:
    app, llm = patient_app, patient_app.llm
    app.runtime.jobs.effects.claim_seconds = LEASE_SECONDS
    await create_template(app, **assistant())
    gate = llm.held(text("Thanks for waiting."))
    await app.says("assist")
    await llm.wait_for_async(1, within=60)
    first = await the_turn(app)
    assert first.status == "running"
    first_lease: datetime = first.next_attempt_at

    async def renewed_past_the_first_lease() -> bool:
        lease = (await the_turn(app)).next_attempt_at
        return lease >= first_lease + timedelta(seconds=LEASE_SECONDS)

    await eventually(renewed_past_the_first_lease, within=120, what="the lease renewed")
    # The first lease has run out, yet the row is still its runner's: nobody takes it over.
    assert await app.runtime.jobs.effects.run(first.id) is None
    await app.runtime.sweeper.sweep_once(grace_seconds=0)

    gate.set()
    [answer] = await replies(app, 1)
    assert text_of(answer) == "Thanks for waiting."
    assert len(llm.chats()) == 1
    async with app.runtime.db_sessions() as db_session:
        calls = list(await db_session.scalars(select(LlmCall)))
    assert [call.outcome for call in calls] == ["ok"]
    done = await the_turn(app)
    assert (done.status, done.attempts) == ("done", 1)
