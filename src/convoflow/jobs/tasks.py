"""The background jobs, and their registration on a taskiq broker.

=============================  ==============================================================
task                           work
=============================  ==============================================================
``convoflow.handle_customer``  process the customer's pending inbound messages in order,
                               mark the newest read, have the replies delivered, kick the
                               effects the turns produced
``convoflow.deliver_outbox``   have the customer's due outbox rows delivered
``convoflow.run_effect``       attempt one effect; on a final result feed it back, have the
                               replies it produced delivered and kick the effects that followed
``convoflow.fire_timer``       fire the conversation's step timer if it is due, have what it
                               sent delivered, kick the effects that followed
=============================  ==============================================================

Each job is idempotent, so a repeated or concurrent job changes nothing.

A job that fails transiently (the database or Redis away, a deadlock: see
:mod:`convoflow.store.transient`) ends quietly: its work is durable and the sweeper kicks
it again, and the outage is logged once by the process's :class:`~convoflow.outages.Outages`
rather than as a traceback per job.

Jobs never send themselves: they hand the customer to the process's
:class:`~convoflow.jobs.send_lane.SendLane` and finish, so a send waiting for the rate
limiter or a slow Graph API holds none of the job slots that processing needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.clock import Clock, SystemClock
from convoflow.engine.outcome import FlowStatus
from convoflow.jobs.dispatcher import (
    DELIVER_OUTBOX,
    FIRE_TIMER,
    HANDLE_CUSTOMER,
    RUN_EFFECT,
    Dispatcher,
)
from convoflow.jobs.effects import EffectRunner
from convoflow.jobs.parked_sends import ParkedSends
from convoflow.jobs.ratelimit import RateLimiter
from convoflow.jobs.read_receipts import ReadReceipts
from convoflow.jobs.send_lane import DEFAULT_SEND_SLOTS, SendLane
from convoflow.jobs.sender import OutboxSender
from convoflow.metrics import observe_batch, observe_processing
from convoflow.outages import Outages
from convoflow.services.access.numbers.tokens import AccessTokens
from convoflow.services.ai.turn import AiTurns
from convoflow.services.conversations.timers import StepTimers
from convoflow.services.inbox.heads import DEFAULT_HEADS, HeadProcessor, HeadsReport
from convoflow.services.inbox.intake import CustomerBatch, MessageProcessor
from convoflow.services.inbox.read_marks import ReadMark
from convoflow.services.workflows.effect_results import ResultContext
from convoflow.services.workflows.instances import pending_effects

__all__ = ["DEFAULT_JOB_CONCURRENCY", "JobHandlers", "register_tasks"]

#: Jobs at once per process; each holds one database connection (the pool keeps 10).
#: Sending has slots of its own (:data:`~convoflow.jobs.send_lane.DEFAULT_SEND_SLOTS`).
DEFAULT_JOB_CONCURRENCY = 10
#: Statuses after which a turn may have left effects behind (an http step, an end action).
_EFFECT_STATUSES = frozenset({FlowStatus.WAITING_EFFECT, FlowStatus.COMPLETED})
#: A new effect held back longer than this is left to the sweeper.
MAX_HELD_SECONDS = 60.0


class JobHandlers:
    """The work behind each task, on one process's services.

    ``concurrency`` bounds how many jobs run at once in this process (each needs a database
    connection); the in-memory broker would otherwise start one per kick. Deliveries run in
    :attr:`sending`, on ``send_slots`` slots of their own.
    """

    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        processor: MessageProcessor,
        sender: OutboxSender,
        effects: EffectRunner,
        dispatcher: Dispatcher,
        read_receipts: ReadReceipts,
        timers: StepTimers | None = None,
        concurrency: int = DEFAULT_JOB_CONCURRENCY,
        send_slots: int = DEFAULT_SEND_SLOTS,
        outages: Outages | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.clock = clock
        self.outages = outages or Outages(clock=clock)
        self.db_sessions = db_sessions
        self.processor = processor
        self.sender = sender
        self.effects = effects
        self.dispatcher = dispatcher
        self.read_receipts = read_receipts
        self.timers = timers
        self.heads = HeadProcessor(processor)
        self._slots = asyncio.Semaphore(concurrency)
        self._held_kicks: set[asyncio.Future[None]] = set()
        self.sending = SendLane(
            sender.deliver_customer,
            deliver_batch=sender.deliver_customers,
            slots=send_slots,
            outages=self.outages,
            clock=clock,
        )

    @classmethod
    def build(
        cls,
        *,
        engine: AsyncEngine,
        db_sessions: async_sessionmaker[AsyncSession],
        processor: MessageProcessor,
        graph: GraphClient,
        limiter: RateLimiter,
        http: httpx.AsyncClient,
        results: ResultContext,
        dispatcher: Dispatcher,
        end_action_secret: str,
        access_tokens: AccessTokens | None = None,
        parked: ParkedSends | None = None,
        mark_read: bool = False,
        timers: StepTimers | None = None,
        outages: Outages | None = None,
        clock: Clock = SystemClock(),
        ai: AiTurns | None = None,
    ) -> JobHandlers:
        """Wire the sender, the effect runner and the read receipts for one process.

        ``access_tokens`` gives each business number's token, for sends and read marks
        (default: the graph client's own); ``mark_read``: send read marks (the setting);
        ``parked``: where accepted sends wait while the database cannot record them;
        ``ai``: what runs AI steps' model turns (``llm`` effects).
        """
        sender = OutboxSender(
            engine=engine,
            db_sessions=db_sessions,
            graph=graph,
            limiter=limiter,
            tokens=access_tokens,
            parked=parked,
            clock=clock,
        )
        effects = EffectRunner(
            db_sessions=db_sessions,
            http=http,
            results=results,
            end_action_secret=end_action_secret,
            clock=clock,
            ai=ai,
        )
        return cls(
            db_sessions=db_sessions,
            processor=processor,
            sender=sender,
            effects=effects,
            dispatcher=dispatcher,
            read_receipts=ReadReceipts(
                graph=graph, enabled=mark_read, tokens=access_tokens, clock=clock
            ),
            timers=timers,
            outages=outages,
            clock=clock,
        )

    def limit_concurrency(self, jobs: int) -> None:
        """Run at most ``jobs`` jobs at once from now on (sending keeps its own slots)."""
        self._slots = asyncio.Semaphore(jobs)

    async def handle_customer(self, owner_id: str, customer_key: str) -> None:
        """Process the customer's pending messages, mark them read, have the replies
        delivered, start effects."""
        async with self._slots:
            started = self.clock.monotonic()
            batch = await self.processor.process_batch(owner_id, customer_key)
            if batch.turns:
                observe_batch("processor", len(batch.turns))
                observe_processing(self.clock.monotonic() - started, len(batch.turns))
            effect_ids = await self._effects_of({(owner_id, customer_key): batch})
        await self._after_processing({(owner_id, customer_key): batch}, effect_ids)

    async def process_heads(self, limit: int = DEFAULT_HEADS) -> HeadsReport:
        """Process the oldest due message of up to ``limit`` customers in one transaction
        (:class:`~convoflow.services.inbox.heads.HeadProcessor`), then mark, deliver and
        start effects as :meth:`handle_customer` does."""
        async with self._slots:
            started = self.clock.monotonic()
            report = await self.heads.process_heads(limit)
            turns = sum(len(batch.turns) for batch in report.batches.values())
            if turns:
                observe_batch("processor", turns)
                observe_processing(self.clock.monotonic() - started, turns)
            effect_ids = await self._effects_of(report.batches)
        await self._after_processing(report.batches, effect_ids)
        return report

    async def _effects_of(self, batches: dict[tuple[str, str], CustomerBatch]) -> list[str]:
        """Report what interrupted a batch; the effects the turns left pending."""
        instance_ids: set[str] = set()
        for batch in batches.values():
            if batch.interrupted is not None and batch.interrupted.service is not None:
                self.outages.of(batch.interrupted.service).failed(batch.interrupted.reason)
            instance_ids.update(
                turn.instance_id
                for turn in batch.turns
                if turn.instance_id is not None and turn.status in _EFFECT_STATUSES
            )
        return await self._pending_effects(instance_ids) if instance_ids else []

    async def _after_processing(
        self, batches: dict[tuple[str, str], CustomerBatch], effect_ids: list[str]
    ) -> None:
        """Read marks, deliveries and effects of processed customers."""
        typing: list[ReadMark] = []
        plain: dict[tuple[str, str], list[ReadMark]] = {}
        for key, batch in batches.items():
            marks = self.read_receipts.marks_for(batch.processed)
            typing.extend(mark for mark in marks if mark.typing_indicator)
            plain[key] = [mark for mark in marks if not mark.typing_indicator]
        # "typing…" must go before the reply that ends it; a plain read mark waits until
        # the replies are out, so it never delays them.
        if typing:  # one Graph call each, at once (a backlog earns many)
            await asyncio.gather(*(self.read_receipts.send([mark]) for mark in typing))
        for (owner_id, customer_key), marks in plain.items():
            self.sending.request(
                owner_id,
                customer_key,
                then=partial(self.read_receipts.send, marks) if marks else None,
            )
        await self.dispatcher.run_effects(effect_ids)

    async def deliver_outbox(self, owner_id: str, customer_key: str) -> None:
        """Have the customer's due outbox rows delivered (by the send lane)."""
        self.sending.request(owner_id, customer_key)

    async def run_effect(self, effect_row_id: str) -> None:
        """Attempt one effect; when its result came back, deliver and chain what followed."""
        async with self._slots:
            fed_back = await self.effects.run(effect_row_id)
            if fed_back is None:
                await self._kick_when_due(effect_row_id)
                return
            effect_ids = await self._pending_effects(fed_back.instance_ids)
        if fed_back.customer_key is not None:
            self.sending.request(fed_back.owner_id, fed_back.customer_key)
        await self.dispatcher.run_effects(effect_ids)

    async def _kick_when_due(self, effect_row_id: str) -> None:
        """A new effect held back (a model turn waiting for the debounce window) is kicked
        again when it is due, from this process; the sweeper is the net if that is lost."""
        due_at = await self.effects.held_until(effect_row_id)
        if due_at is None:
            return
        delay = (due_at - self.clock.now()).total_seconds()
        if delay > MAX_HELD_SECONDS:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(max(delay, 0.0), self._kick_later, effect_row_id)

    def _kick_later(self, effect_row_id: str) -> None:
        task = asyncio.ensure_future(self._kick_quietly(effect_row_id))
        self._held_kicks.add(task)
        task.add_done_callback(self._held_kicks.discard)

    async def _kick_quietly(self, effect_row_id: str) -> None:
        try:
            await self.dispatcher.run_effects([effect_row_id])
        except Exception as exc:  # a lost kick only delays the turn to the sweeper's pass
            self.outages.absorb(exc, what="kicking a held effect")

    async def fire_timer(self, owner_id: str, customer_key: str) -> None:
        """Fire the conversation's step timer if it is due now; have what it sent delivered."""
        if self.timers is None:
            return
        async with self._slots:
            turn = await self.timers.fire(owner_id, customer_key, now=self.clock.now())
            if turn is None:
                return
            instance_ids = [turn.instance_id] if turn.instance_id is not None else []
            effect_ids = await self._pending_effects(instance_ids)
        self.sending.request(owner_id, customer_key)
        await self.dispatcher.run_effects(effect_ids)

    async def stop_sending(self, *, within: float) -> None:
        """Let queued deliveries finish for up to ``within`` seconds, then cancel the rest
        (their rows stay queued for the sweeper)."""
        await self.sending.stop(within=within)

    async def _pending_effects(self, instance_ids: Iterable[str]) -> list[str]:
        async with self.db_sessions() as db_session:
            return await pending_effects(db_session, instance_ids)


def register_tasks(broker: AsyncBroker, handlers: JobHandlers) -> None:
    """Register the jobs on ``broker`` under their stable names."""

    async def quietly(what: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job``; a transient failure is logged as part of an outage, not raised."""
        try:
            await job()
        except Exception as exc:
            if not handlers.outages.absorb(exc, what=what):
                raise

    # taskiq renames the functions it registers, so each task is a function of its own.
    async def handle_customer(owner_id: str, customer_key: str) -> None:
        await quietly(HANDLE_CUSTOMER, lambda: handlers.handle_customer(owner_id, customer_key))

    async def deliver_outbox(owner_id: str, customer_key: str) -> None:
        await quietly(DELIVER_OUTBOX, lambda: handlers.deliver_outbox(owner_id, customer_key))

    async def run_effect(effect_row_id: str) -> None:
        await quietly(RUN_EFFECT, lambda: handlers.run_effect(effect_row_id))

    async def fire_timer(owner_id: str, customer_key: str) -> None:
        await quietly(FIRE_TIMER, lambda: handlers.fire_timer(owner_id, customer_key))

    broker.register_task(handle_customer, task_name=HANDLE_CUSTOMER)
    broker.register_task(deliver_outbox, task_name=DELIVER_OUTBOX)
    broker.register_task(run_effect, task_name=RUN_EFFECT)
    broker.register_task(fire_timer, task_name=FIRE_TIMER)
