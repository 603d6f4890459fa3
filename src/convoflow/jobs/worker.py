"""Running the background side of a process: in ``convoflow serve``, or ``convoflow worker``.

* ``convoflow serve`` without Redis: the in-memory broker runs jobs in the server process,
  and :class:`BackgroundJobs` runs the sweeper there too (a start-up pass first).
* ``convoflow serve`` with Redis: the server only enqueues; nothing runs here.
* ``convoflow worker`` (:func:`run_worker`, Redis required): a taskiq receiver on the Redis
  stream plus the sweeper, until SIGTERM or SIGINT.

A process that runs jobs (a worker, or the server with in-process jobs) keeps a heartbeat
(:mod:`convoflow.jobs.heartbeat`), which ``/readyz`` counts. The receiver is restarted with
a capped backoff if it ever fails (taskiq's own loop restarts it at once, in a tight loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from convoflow import metrics
from convoflow.clock import Clock
from convoflow.errors import SettingsError
from convoflow.heap import freeze_startup_heap
from convoflow.jobs.broker import runs_in_process
from convoflow.jobs.campaigns import CampaignJobs
from convoflow.jobs.dispatcher import Dispatcher
from convoflow.jobs.heartbeat import Heartbeats, WorkerHeartbeat
from convoflow.jobs.inbox_loop import InboxLoop
from convoflow.jobs.inbox_signal import LocalInboxSignal
from convoflow.jobs.process_state import state_reader
from convoflow.jobs.sweeper import Sweeper
from convoflow.jobs.tasks import JobHandlers
from convoflow.outages import Outages, Pause, retry_delay
from convoflow.settings import Settings
from convoflow.store.transient import REDIS

__all__ = ["DRAIN_SECONDS", "BackgroundJobs", "JobRuntime", "receive_jobs", "run_worker"]

logger = logging.getLogger(__name__)

#: How long a stopping process waits for its in-memory jobs to finish.
DRAIN_SECONDS = 10.0
#: The longest wait before a failed receiver is started again.
MAX_RECEIVER_BACKOFF_SECONDS = 10.0


class JobRuntime(Protocol):
    """What the background side needs of a process's composition root."""

    @property
    def engine(self) -> AsyncEngine:
        """The database engine (its pool is reported in the metrics)."""

    @property
    def db_sessions(self) -> async_sessionmaker[AsyncSession]:
        """The gated database session factory."""

    @property
    def broker(self) -> AsyncBroker:
        """The task broker (in memory, or Redis Streams)."""

    @property
    def dispatcher(self) -> Dispatcher:
        """Kicks jobs; its inbox signal wakes the processor loop."""

    @property
    def redis(self) -> Redis | None:
        """The Redis client, when configured."""

    @property
    def sweeper(self) -> Sweeper:
        """The periodic pass that re-kicks anything a lost job left behind."""

    @property
    def jobs(self) -> JobHandlers:
        """The work behind each task."""

    @property
    def campaigns(self) -> CampaignJobs:
        """The campaign scheduler and the periodic template sync."""

    @property
    def outages(self) -> Outages:
        """Where this process logs database and Redis outages."""

    @property
    def heartbeats(self) -> Heartbeats:
        """Where this process's heartbeat goes while it runs jobs."""

    @property
    def clock(self) -> Clock:
        """The process's clock."""

    async def close(self) -> None:
        """Release connections."""


class BackgroundJobs:
    """The broker's client side, the sweeper (when ``sweep``), the heartbeat (when
    ``heartbeat``: the process runs jobs) and an orderly stop."""

    def __init__(
        self, runtime: JobRuntime, *, sweep: bool, heartbeat: bool = False, inbox: bool = False
    ) -> None:
        self.runtime = runtime
        self.sweep = sweep
        self.heartbeat = heartbeat
        self.inbox = inbox
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_server(cls, runtime: JobRuntime) -> BackgroundJobs:
        """What ``convoflow serve`` runs: the sweeper and a heartbeat only when jobs run
        in-process (then the server is its own worker)."""
        in_process = runs_in_process(runtime.broker)
        return cls(runtime, sweep=in_process, heartbeat=in_process, inbox=in_process)

    async def start(self) -> None:
        """Start the broker, the heartbeat and, when sweeping, the sweeper (its first pass
        is immediate)."""
        await self.runtime.broker.startup()
        self._stop.clear()
        if self.heartbeat:
            beat = WorkerHeartbeat(
                self.runtime.heartbeats,
                about=self._about(),
                outages=self.runtime.outages,
            )
            self._tasks.append(asyncio.create_task(beat.run(self._stop), name="convoflow-beat"))
        if self.inbox:
            self._start_inbox_loop()
        if self.sweep:
            self._tasks.append(
                asyncio.create_task(self.runtime.sweeper.run(self._stop), name="convoflow-sweeper")
            )
            self._tasks.append(
                asyncio.create_task(
                    self.runtime.campaigns.run(self._stop), name="convoflow-campaigns"
                )
            )

    def _start_inbox_loop(self) -> None:
        """The processor loop; in-process it listens to the local signal, else to Redis."""
        signal = self.runtime.dispatcher.inbox
        local = isinstance(signal, LocalInboxSignal)
        loop = InboxLoop(
            self.runtime.jobs,
            outages=self.runtime.outages,
            redis=None if local else self.runtime.redis,
        )
        if isinstance(signal, LocalInboxSignal):
            signal.attach(loop.wake)
        self._tasks.append(asyncio.create_task(loop.run(self._stop), name="convoflow-inbox"))

    def _about(self) -> dict[str, object]:
        return {
            "started_at": self.runtime.clock.now().isoformat(),
            "in_process": runs_in_process(self.runtime.broker),
        }

    async def stop(self) -> None:
        """Stop sweeping and beating, and let in-process jobs, then the deliveries they
        asked for, finish (up to :data:`DRAIN_SECONDS` each)."""
        self._stop.set()
        signal = self.runtime.dispatcher.inbox
        if self.inbox and isinstance(signal, LocalInboxSignal):
            signal.attach(None)  # from now on, jobs (drained below)
        for task in self._tasks:
            await task
        self._tasks = []
        broker = self.runtime.broker
        if isinstance(broker, InMemoryBroker):
            await _drain(broker, DRAIN_SECONDS)
        await self.runtime.jobs.stop_sending(within=DRAIN_SECONDS)


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


async def receive_jobs(
    broker: AsyncBroker,
    *,
    concurrency: int,
    outages: Outages,
    pause: Pause = asyncio.sleep,
) -> None:
    """Run taskiq's receiver on ``broker`` until cancelled; restart it after a failure.

    A failure is logged once per outage (Redis away) or with its traceback (anything
    else), and the restart waits a backoff that doubles up to
    :data:`MAX_RECEIVER_BACKOFF_SECONDS`, so a fault never becomes a tight loop.
    """
    failures = 0
    with ThreadPoolExecutor(max_workers=1) as executor:  # taskiq wants one; our tasks are async
        broker.is_worker_process = True
        while True:
            receiver = Receiver(
                broker=broker,
                executor=executor,
                run_startup=False,
                max_async_tasks=concurrency,
                ack_type=AcknowledgeType.WHEN_EXECUTED,
            )
            try:
                await receiver.listen(asyncio.Event())
                failures = 0
            except Exception as exc:
                failures += 1
                if not outages.absorb(exc, what="job receiver", service=REDIS):
                    logger.exception("job receiver failed; restarting it")
            await pause(retry_delay(failures, cap=MAX_RECEIVER_BACKOFF_SECONDS))


async def run_worker(
    settings: Settings,
    *,
    build: Callable[[Settings], JobRuntime],
    concurrency: int,
    stop: asyncio.Event | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    freeze_heap: bool = False,
) -> None:
    """Consume jobs from Redis, sweep and beat until ``stop`` is set (or SIGTERM / SIGINT).

    ``build`` is the composition root (:meth:`convoflow.runtime.Runtime.build`). With
    ``metrics_port`` the process's metrics are served on ``metrics_host:metrics_port``.
    ``freeze_heap``: once started, leave the start-up heap out of garbage collection
    (:mod:`convoflow.heap`; for the worker process, not for tests).
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
    background = BackgroundJobs(runtime, sweep=True, heartbeat=True, inbox=True)
    await background.start()
    if freeze_heap:
        freeze_startup_heap()
    exporter: _WorkerMetrics | None = None
    receiver = asyncio.create_task(
        receive_jobs(runtime.broker, concurrency=concurrency, outages=runtime.outages),
        name="convoflow-receiver",
    )
    logger.info("convoflow worker consuming jobs (concurrency %d)", concurrency)
    try:
        exporter = _serve_metrics(runtime, metrics_port, metrics_host)
        await stop.wait()
    finally:
        if exporter is not None:
            await exporter.stop()
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        await background.stop()
        await runtime.close()


class _WorkerMetrics:
    """The worker's metrics server and the state reader its scrapes run."""

    def __init__(self, server: metrics.MetricsServer, read: metrics.StateReader) -> None:
        self.server = server
        self.read = read

    async def stop(self) -> None:
        metrics.unwatch_state(self.read)
        await asyncio.to_thread(self.server.stop)


def _serve_metrics(runtime: JobRuntime, port: int | None, host: str) -> _WorkerMetrics | None:
    """Serve the worker's metrics on ``host:port`` (none without a port)."""
    if port is None:
        return None
    read = state_reader(
        engine=runtime.engine,
        db_sessions=runtime.db_sessions,
        heartbeats=runtime.heartbeats,
        clock=runtime.clock,
    )
    try:
        server = metrics.serve_metrics(port, host)
    except OSError as exc:
        raise SettingsError(
            f"--metrics-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})"
        ) from None
    metrics.watch_state(read)
    logger.info("convoflow worker metrics on http://%s:%d/metrics", host, server.port)
    return _WorkerMetrics(server, read)
