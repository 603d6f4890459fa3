"""A worker killed with SIGKILL while messages are queued: after a restart, every message is
delivered, and none twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from convoflow.store.models import WhatsAppMessage
from tests.e2e.processes import PROCESS_REDIS_URL, Process, process_env
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import WebhookClient, clean_app, eventually, text

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def count_rows(client: WebhookClient, *conditions: object) -> int:
    async with client.runtime.db_sessions() as db_session:
        query = select(func.count()).select_from(WhatsAppMessage).where(*conditions)  # type: ignore[arg-type]
        return int(await db_session.scalar(query) or 0)


async def test_killed_worker_delivers_everything_once_after_restart(
    pg_url: str, graph_stub: GraphStub, clean_redis: None, tmp_path: Path
) -> None:
    env = process_env(pg_url, graph_stub)
    first_batch = [f"1555080000{n}" for n in range(4)]
    queued_batch = [f"1555081000{n}" for n in range(4)]
    while_down = [f"1555082000{n}" for n in range(4)]
    async with clean_app(pg_url, graph_stub, redis_url=PROCESS_REDIS_URL) as server:
        worker = Process(["worker"], env, tmp_path / "worker-1.log")
        try:
            for customer_key in first_batch:
                await server.send(text(customer_key, "hi"))
            await graph_stub.wait_for_async(len(first_batch), timeout=60)

            graph_stub.fail_next(100_000, status=503, code=131016, retry_after=0.2)
            for customer_key in queued_batch:
                await server.send(text(customer_key, "hi"))

            async def all_refused_once() -> bool:
                refused = WhatsAppMessage.attempts >= 1
                queued = WhatsAppMessage.status == "queued"
                return await count_rows(server, queued, refused) == len(queued_batch)

            await eventually(all_refused_once, within=60, what="the worker to be retrying")
        finally:
            worker.kill()

        for customer_key in while_down:  # queued on Redis with no worker to take them
            await server.send(text(customer_key, "hi"))
        delivered_before = graph_stub.sent
        graph_stub.reset()  # the Graph API is back

        worker = Process(["worker"], env, tmp_path / "worker-2.log")
        try:
            expected = len(queued_batch) + len(while_down)
            await graph_stub.wait_for_async(expected, timeout=90)

            async def settled() -> bool:
                pending = WhatsAppMessage.status.in_(("received", "queued"))
                return await count_rows(server, pending) == 0

            await eventually(settled, within=60, what="every message to settle")
        finally:
            worker.stop()

    assert sorted(r.to for r in delivered_before) == [f"+{c}" for c in first_batch]
    assert sorted(r.to for r in graph_stub.sent) == [f"+{c}" for c in queued_batch + while_down]
