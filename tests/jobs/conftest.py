"""A runtime wired to the stand-in Graph API, with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from convoflow.runtime import Runtime
from tests.jobs.helpers import started_runtime
from tests.jobs.outside_api import OutsideApi
from tests.support.graph_stub import GraphStub


@pytest.fixture
async def app_runtime(database_url: str, graph_stub: GraphStub) -> AsyncIterator[Runtime]:
    """Jobs run in this process (in-memory broker); no sweeper unless a test starts one."""
    async with started_runtime(database_url, graph_stub) as runtime:
        yield runtime


@pytest.fixture
def outside_api() -> Iterator[OutsideApi]:
    """A stand-in outside API on 127.0.0.1 (for http steps and end actions)."""
    api = OutsideApi()
    api.start()
    yield api
    api.stop()
