"""A worker killed with SIGKILL in the middle of a campaign: after a restart every recipient
is sent their message exactly once (no duplicates) and nobody is left out (no gaps).

The one send the outbox cannot protect is a message Meta accepted in the instant before the
process died, before its wamid was written or parked (docs/architecture.md). So the kill
comes at a moment the stand-in Graph API refuses sends (a retryable 131016) and every
accepted send is already recorded: rows are queued, claimed, waiting for retries and for
the next batch, and the campaign is half done.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from convoflow.runtime import Runtime
from convoflow.services.campaigns import lifecycle
from convoflow.store.models import CampaignRecipient, WhatsAppMessage
from tests.campaigns.conftest import WABA_ID
from tests.campaigns.helpers import campaign, campaign_with, csv_of, numbers, synced
from tests.e2e.processes import PROCESS_REDIS_URL, Process, process_env
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import clean_app, eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

AUDIENCE = 200
MAX_MPS = 20  # about ten seconds of sending: the kill lands mid-campaign


async def recorded_sends(runtime: Runtime) -> int:
    """Outbox rows that carry the wamid Meta answered."""
    async with runtime.db_sessions() as db_session:
        query = select(func.count()).select_from(WhatsAppMessage)
        return int(await db_session.scalar(query.where(WhatsAppMessage.wamid.is_not(None))) or 0)


async def recipients_by_status(runtime: Runtime, campaign_id: str) -> Counter[str]:
    async with runtime.db_sessions() as db_session:
        rows = await db_session.scalars(
            select(CampaignRecipient.status).where(CampaignRecipient.campaign_id == campaign_id)
        )
        return Counter(rows.all())


async def test_a_worker_killed_mid_campaign_sends_everyone_once_after_a_restart(
    pg_url: str, graph_stub: GraphStub, clean_redis: None, tmp_path: Path
) -> None:
    env = process_env(pg_url, graph_stub) | {"CONVOFLOW_WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID}
    audience = numbers(AUDIENCE)
    async with clean_app(
        pg_url, graph_stub, redis_url=PROCESS_REDIS_URL, whatsapp_business_account_id=WABA_ID
    ) as server:
        runtime = server.runtime
        await synced(runtime, graph_stub)
        campaign_id = await campaign_with(
            runtime, csv_of(audience), plan=lifecycle.Schedule(max_mps=MAX_MPS)
        )
        worker = Process(["worker"], env, tmp_path / "worker-1.log")
        try:
            await graph_stub.wait_for_async(AUDIENCE // 4, timeout=300)
            # Meta stops accepting; once every accepted send is recorded, the worker dies.
            graph_stub.fail_next(1_000_000, status=503, code=131016, retry_after=5)

            async def accepted_all_recorded() -> bool:
                return await recorded_sends(runtime) == len(graph_stub.sent)

            await eventually(accepted_all_recorded, within=120, what="accepted sends recorded")
        finally:
            worker.kill()
        before = graph_stub.sent
        assert AUDIENCE // 4 <= len(before) < AUDIENCE, "the kill must land mid-campaign"
        graph_stub.reset()  # the Graph API accepts again

        worker = Process(["worker"], env, tmp_path / "worker-2.log")
        try:

            async def campaign_completed() -> bool:
                return (await campaign(runtime, campaign_id)).status == "completed"

            await eventually(campaign_completed, within=600, what="the campaign to complete")
        finally:
            worker.stop()
        assert await recipients_by_status(runtime, campaign_id) == Counter({"sent": AUDIENCE})

    per_recipient = Counter(request.to for request in before + graph_stub.sent)
    assert per_recipient == Counter(f"+{key}" for key in audience)  # each exactly once
