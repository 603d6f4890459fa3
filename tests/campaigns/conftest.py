"""A runtime on the stand-in Graph API with a fake clock, for campaign tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from convoflow.clock import FakeClock
from convoflow.jobs.ratelimit import LocalRateLimiter
from convoflow.runtime import Runtime
from tests.jobs.helpers import started_runtime
from tests.support.graph_stub import GraphStub

WABA_ID = "102290129340398"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at the start of the current minute (tests move it)."""
    return FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
async def runtime(
    database_url: str, graph_stub: GraphStub, clock: FakeClock
) -> AsyncIterator[Runtime]:
    """Jobs in this process, no sweeper and no campaign loop: tests run the passes."""
    async with started_runtime(
        database_url,
        graph_stub,
        clock=clock,
        whatsapp_business_account_id=WABA_ID,
        whatsapp_max_mps=1000,
    ) as started:
        # The rate limit runs on real time: a fake clock that never moves would hold
        # spare-capacity (campaign) sends back forever.
        started.jobs.sender.limiter = LocalRateLimiter(1000)
        yield started
