"""The served processes leave their start-up heap out of garbage collection; tests do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from convoflow.api.app import create_app
from convoflow.heap import YOUNG_COLLECTION_THRESHOLD, freeze_startup_heap
from tests.conftest import make_settings


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as this test process had it, restored afterwards."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_freezing_moves_the_live_heap_out_of_collections(collector: None) -> None:
    kept = [object() for _ in range(10)]
    freeze_startup_heap()
    assert gc.get_freeze_count() > len(kept)
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
    # What is allocated afterwards is collected as before: a cycle made now is freed.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.parametrize("freeze_heap", [True, False])
async def test_the_app_freezes_its_heap_once_started_only_when_asked(
    collector: None, sqlite_url: str, freeze_heap: bool
) -> None:
    app = create_app(make_settings(sqlite_url), freeze_heap=freeze_heap)
    async with app.router.lifespan_context(app):
        assert (gc.get_freeze_count() > 0) is freeze_heap
