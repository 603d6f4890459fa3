"""Running the background side of a process: in ``convoflow serve``, or ``convoflow worker``.

* ``convoflow serve`` without Redis: the in-memory broker runs jobs in the server process,
  and :class:`BackgroundJobs` runs the sweeper there too (a start-up pass first).
* ``convoflow serve`` with Redis: the server only enqueues; nothing runs here.
* ``convoflow worker`` (:func:`run_worker`, Redis required): a taskiq receiver on the Redis
  stream plus the sweeper, until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task

from convoflow.errors import SettingsError
from convoflow.jobs.broker import runs_in_process
from convoflow.jobs.sweeper import Sweeper
from convoflow.jobs.tasks import JobHandlers
from convoflow.settings import Settings

__all__ = ["DRAIN_SECONDS", "BackgroundJobs", "JobRuntime", "run_worker"]

logger = logging.getLogger(__name__)

#: How long a stopping process waits for its in-memory jobs to finish.
DRAIN_SECONDS = 10.0


class JobRuntime(Protocol):
    """What the background side needs of a process's composition root."""

    @property
    def broker(self) -> AsyncBroker:
        """The task broker (in memory, or Redis Streams)."""

    @property
    def sweeper(self) -> Sweeper:
        """The periodic pass that re-kicks anything a lost job left behind."""

    @property
    def jobs(self) -> JobHandlers:
        """The work behind each task."""

    async def close(self) -> None:
        """Release connections."""


class BackgroundJobs:
    """The broker's client side, the sweeper (when ``sweep``) and an orderly stop."""

    def __init__(self, runtime: JobRuntime, *, sweep: bool) -> None:
        self.runtime = runtime
        self.sweep = sweep
        self._stop = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def for_server(cls, runtime: JobRuntime) -> BackgroundJobs:
        """What ``convoflow serve`` runs: the sweeper only when jobs run in-process."""
        return cls(runtime, sweep=runs_in_process(runtime.broker))

    async def start(self) -> None:
        """Start the broker and, when sweeping, the sweeper (its first pass is immediate)."""
        await self.runtime.broker.startup()
        if self.sweep:
            self._sweeper = asyncio.create_task(
                self.runtime.sweeper.run(self._stop), name="convoflow-sweeper"
            )

    async def stop(self) -> None:
        """Stop sweeping and let in-process jobs finish (up to :data:`DRAIN_SECONDS`)."""
        self._stop.set()
        if self._sweeper is not None:
            await self._sweeper
            self._sweeper = None
        broker = self.runtime.broker
        if isinstance(broker, InMemoryBroker):
            await _drain(broker, DRAIN_SECONDS)


async def _drain(broker: InMemoryBroker, seconds: float) -> None:
    """Wait for running in-memory jobs, including the ones they kick, then cancel the rest."""
    # InMemoryBroker.wait_all() has no time limit, so its task set is watched directly.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while broker._running_tasks and loop.time() < deadline:
        pending = list(broker._running_tasks)
        await asyncio.wait(pending, timeout=max(deadline - loop.time(), 0.0))
    for task in list(broker._running_tasks):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_worker(
    settings: Settings,
    *,
    build: Callable[[Settings], JobRuntime],
    concurrency: int,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume jobs from Redis and sweep until ``stop`` is set (or SIGTERM / SIGINT).

    ``build`` is the composition root (:meth:`convoflow.runtime.Runtime.build`).
    """
    if not settings.redis_url:
        raise SettingsError("CONVOFLOW_REDIS_URL: convoflow worker needs Redis; set it")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        # Event loops without signal support (Windows, or not the main thread) raise
        # these; the worker then stops on the `stop` event alone.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal_number, stop.set)
    runtime = build(settings)
    runtime.jobs.limit_concurrency(concurrency)
    background = BackgroundJobs(runtime, sweep=True)
    await background.start()
    receiver = asyncio.create_task(
        run_receiver_task(
            runtime.broker,
            max_async_tasks=concurrency,
            ack_time=AcknowledgeType.WHEN_EXECUTED,
            run_startup=False,
        ),
        name="convoflow-receiver",
    )
    logger.info("convoflow worker consuming jobs (concurrency %d)", concurrency)
    try:
        await stop.wait()
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        await background.stop()
        await runtime.close()
