"""What was acknowledged before a crash is answered when convoflow starts again."""

from __future__ import annotations

import os
import subprocess
import sys

from convoflow.channels.whatsapp.inbound import parse_webhook
from convoflow.channels.whatsapp.records import receive_webhook
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import app_settings, change, clean_app, running_app, text, webhook


async def test_messages_acknowledged_before_a_crash_are_answered_at_the_next_start(
    database_url: str, graph_stub: GraphStub
) -> None:
    async with clean_app(database_url, graph_stub) as first_life:
        # What a crash right after the webhook's commit leaves: stored, never processed.
        parsed = parse_webhook(webhook(change([text("15551200001", "hi")])))
        runtime = first_life.runtime
        await receive_webhook(
            runtime.db_sessions,
            PhoneNumberDirectory(runtime.db_sessions),
            parsed,
            now=runtime.clock.now(),
        )
        assert graph_stub.sent == []

        async with running_app(app_settings(database_url, graph_stub), seeded=False):
            [menu] = await graph_stub.wait_for_async(1, timeout=30)

    assert menu.to == "+15551200001"


def test_worker_refuses_to_start_without_redis() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONVOFLOW_")}

    result = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "CONVOFLOW_REDIS_URL" in result.stderr
