"""Sending on its own bounded slots, so nothing else ever waits for the rate limiter.

A send may wait: for the per-number rate limit (``CONVOFLOW_WHATSAPP_MAX_MPS``), for a slow
Graph API. If it waited inside a job, it would hold one of the job slots that processing
inbound messages needs too (and, in a worker, one of the task receiver's slots), so a low
rate limit would slow down answering everyone. Jobs therefore hand deliveries to the
process's :class:`SendLane` and finish: a fixed number of lane workers deliver customers in
the order they were asked for, one run per customer at a time.

The lane only remembers *which customers* to deliver; the rows themselves are in the
database, so work the lane loses (a crash, a stop before it drained) is found again by the
sweeper. A run that ends with the head row waiting for a retry (backoff, a long rate-limit
wait) asks the lane again when that retry is due.

Given a batch delivery (:meth:`~convoflow.jobs.sender.OutboxSender.deliver_customers`), a
lane worker takes every customer waiting, up to ``batch_size``, into one run: their rows are
claimed, sent and recorded together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from convoflow.clock import Clock, SystemClock
from convoflow.jobs.outbox_claims import Customer
from convoflow.jobs.sender import DeliveryReport
from convoflow.outages import Outages

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_SEND_SLOTS", "AfterDelivery", "BatchDelivery", "SendLane"]

logger = logging.getLogger(__name__)

#: Deliveries at once per process; each holds one database connection while it sends
#: (the pool keeps that many outside the session gate, see ``store.database.GATE_RESERVE``).
DEFAULT_SEND_SLOTS = 10
#: Customers delivered together by one lane worker, at most.
DEFAULT_BATCH_SIZE = 32
#: Something to do once a customer's delivery run is over (the plain read marks).
AfterDelivery = Callable[[], Awaitable[object]]
#: Delivers many customers in one run, a report for each.
BatchDelivery = Callable[[Sequence[Customer]], Awaitable[dict[Customer, DeliveryReport]]]


class SendLane:
    """Delivers customers on ``slots`` workers of their own, in request order.

    ``deliver`` is :meth:`~convoflow.jobs.sender.OutboxSender.deliver_customer`;
    ``deliver_batch``, when given, delivers up to ``batch_size`` customers in one run (a batch
    that fails for anything but an outage is run again one customer at a time, so one
    customer's bad row holds back nobody else). Workers start with the first request (in
    the running event loop) and stop with :meth:`stop`. A run that fails transiently (the
    database or Redis away) is reported to ``outages``, one line per outage instead of a
    traceback per customer.
    """

    def __init__(
        self,
        deliver: Callable[[str, str], Awaitable[DeliveryReport]],
        *,
        deliver_batch: BatchDelivery | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        slots: int = DEFAULT_SEND_SLOTS,
        outages: Outages | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.deliver = deliver
        self.deliver_batch = deliver_batch
        self.batch_size = batch_size if deliver_batch is not None else 1
        self.slots = slots
        self.clock = clock
        self.outages = outages or Outages(clock=clock)
        # One token per waiting customer; a worker that takes one serves the oldest
        # foreground customer, else the oldest background one (campaign rows).
        self._queue: asyncio.Queue[None] = asyncio.Queue()
        self._foreground: deque[Customer] = deque()
        self._background: deque[Customer] = deque()
        self._waiting: dict[Customer, list[AfterDelivery]] = {}
        self._running: set[Customer] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def request(
        self,
        owner_id: str,
        customer_key: str,
        *,
        then: AfterDelivery | None = None,
        background: bool = False,
    ) -> None:
        """Deliver the customer's due rows soon, then run ``then`` (if given).

        A customer already waiting is not queued twice; one whose run is under way gets one
        more run after it (rows may have been queued behind the run's last claim).
        ``background`` customers (campaign rows) are served only when no other waits.
        """
        key = (owner_id, customer_key)
        if key in self._waiting:
            if then is not None:
                self._waiting[key].append(then)
            return
        self._waiting[key] = [then] if then is not None else []
        self._idle.clear()
        if key not in self._running:
            self._enqueue(key, background=background)
        self._start_workers()

    def _enqueue(self, key: Customer, *, background: bool = False) -> None:
        (self._background if background else self._foreground).append(key)
        self._queue.put_nowait(None)

    async def wait_idle(self) -> None:
        """Until nothing is waiting or running (retry timers not counted)."""
        await self._idle.wait()

    async def stop(self, *, within: float) -> None:
        """Let the lane drain for up to ``within`` seconds, then cancel what is left."""
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.wait_idle()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        # What is left stays queued in the database, for the sweeper.
        self._queue = asyncio.Queue()
        self._foreground.clear()
        self._background.clear()
        self._waiting.clear()
        self._running.clear()
        self._idle.set()

    def _start_workers(self) -> None:
        while len(self._workers) < self.slots:
            self._workers.append(
                asyncio.create_task(self._work(), name=f"convoflow-send-{len(self._workers)}")
            )

    async def _work(self) -> None:
        while True:
            await self._queue.get()
            keys = [self._next()]
            while len(keys) < self.batch_size and not self._queue.empty():
                self._queue.get_nowait()
                keys.append(self._next())
            after = {key: self._waiting.pop(key, []) for key in keys}
            self._running.update(keys)
            try:
                await self._run(keys, after)
            finally:
                for key in keys:
                    self._running.discard(key)
                    if key in self._waiting:  # asked again while it ran: once more
                        self._enqueue(key)
                if not self._waiting and not self._running:
                    self._idle.set()

    def _next(self) -> Customer:
        """The oldest foreground customer, else the oldest background one."""
        return self._foreground.popleft() if self._foreground else self._background.popleft()

    async def _run(self, keys: list[Customer], after: dict[Customer, list[AfterDelivery]]) -> None:
        reports = await self._delivered(keys)
        for key, report in reports.items():
            if report is not None and report.retry_at is not None:
                self._retry_at(key, report.retry_at)
        # What follows each customer's run (its read marks) goes out together.
        await asyncio.gather(*(self._then(key, steps) for key, steps in after.items()))

    async def _delivered(self, keys: list[Customer]) -> dict[Customer, DeliveryReport | None]:
        """Each customer's report (None: its run failed and was logged)."""
        if self.deliver_batch is not None and len(keys) > 1:
            try:
                return dict(await self.deliver_batch(keys))
            except Exception as error:  # the sweeper finds the rows again
                if self.outages.absorb(error, what=f"delivery to {len(keys)} customers"):
                    return dict.fromkeys(keys)
                # Named without a traceback: the one-at-a-time pass below meets a real fault
                # again and logs it per customer, with its traceback (an error that only
                # follows from a lost connection may not look transient itself).
                logger.warning(
                    "delivery to %d customers failed (%r); one at a time", len(keys), error
                )
        return {key: await self._delivered_one(key) for key in keys}

    async def _delivered_one(self, key: Customer) -> DeliveryReport | None:
        owner_id, customer_key = key
        try:
            return await self.deliver(owner_id, customer_key)
        except Exception as error:  # the sweeper finds the rows again; this run is over
            if not self.outages.absorb(error, what=f"delivery to {customer_key}"):
                logger.exception("delivery to %s failed", customer_key)
            return None

    @staticmethod
    async def _then(key: Customer, steps: list[AfterDelivery]) -> None:
        for step in steps:
            try:
                await step()
            except Exception:
                logger.exception("after delivering to %s", key[1])

    def _retry_at(self, key: Customer, due: datetime) -> None:
        delay = max((due - self.clock.now()).total_seconds(), 0.0)
        loop = asyncio.get_running_loop()

        def due_now() -> None:
            self._retries.discard(handle)
            self.request(*key)

        handle = loop.call_later(delay, due_now)
        self._retries.add(handle)
