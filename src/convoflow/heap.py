"""Short garbage-collector pauses for the long-running processes.

CPython's full collection (generation 2) walks every tracked object, and a serving process
holds several hundred thousand that live as long as it does: modules, classes, SQLAlchemy's
mappers and statement caches, the app's routes and models. Under load each full collection
stopped the event loop for 100–170 ms, and every message in flight waited that long: the
tail of the end-to-end latency. Once a process has started, :func:`freeze_startup_heap`
moves what exists then out of the collector's sight (:func:`gc.freeze`), so a full
collection only walks what was allocated since, and young collections run less often.

Only the processes started by the CLI do this: a test process builds and drops many apps,
and frozen objects are never collected.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_COLLECTION_THRESHOLD", "freeze_startup_heap"]

#: Net allocations between two young collections (CPython's default is 700): a message's
#: turn allocates thousands of short-lived objects, which then mostly die young.
YOUNG_COLLECTION_THRESHOLD = 7_000


def freeze_startup_heap() -> None:
    """Collect once, then leave everything alive now out of later collections."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
