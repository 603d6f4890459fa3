"""A runtime wired to the stand-in Graph API, with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from convoflow.runtime import Runtime
from tests.jobs.helpers import started_runtime
from tests.support.graph_stub import GraphStub


@pytest.fixture
async def app_runtime(database_url: str, graph_stub: GraphStub) -> AsyncIterator[Runtime]:
    """Jobs run in this process (in-memory broker); no sweeper unless a test starts one."""
    async with started_runtime(database_url, graph_stub) as runtime:
        yield runtime
