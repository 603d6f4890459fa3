"""A runtime wired to the stand-in Graph API, with the built-in templates seeded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from convoflow.jobs.worker import BackgroundJobs
from convoflow.runtime import Runtime
from convoflow.services.access.setup import seed
from tests.jobs.outside_api import OutsideApi
from tests.support.databases import truncate_all
from tests.support.graph_stub import GraphStub
from tests.support.webhooks import PHONE_NUMBER_ID, app_settings


@pytest.fixture
async def app_runtime(database_url: str, graph_stub: GraphStub) -> AsyncIterator[Runtime]:
    """Jobs run in this process (in-memory broker); no sweeper unless a test starts one."""
    runtime = Runtime.build(app_settings(database_url, graph_stub))
    await truncate_all(runtime.engine)
    await seed(runtime.sessions, owner_name="admin", phone_number_id=PHONE_NUMBER_ID)
    background = BackgroundJobs(runtime, sweep=False)
    await background.start()
    try:
        yield runtime
    finally:
        await background.stop()
        await truncate_all(runtime.engine)
        await runtime.close()


@pytest.fixture
def outside_api() -> Iterator[OutsideApi]:
    """A stand-in outside API on 127.0.0.1 (for http steps and end actions)."""
    api = OutsideApi()
    api.start()
    yield api
    api.stop()
