"""The composition root: everything one process shares, built from the settings."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.channels.whatsapp.graph_http import AiohttpTransport
from convoflow.channels.whatsapp.inbound_events import event_for_message
from convoflow.clock import Clock, SystemClock
from convoflow.encryption import TokenCipher, load_token_cipher
from convoflow.engine.events import Event
from convoflow.jobs.broker import create_broker, runs_in_process
from convoflow.jobs.campaigns import CampaignJobs
from convoflow.jobs.dispatcher import Dispatcher
from convoflow.jobs.effects_now import EffectsNow
from convoflow.jobs.heartbeat import Heartbeats, LocalHeartbeats, RedisHeartbeats
from convoflow.jobs.inbox_signal import LocalInboxSignal, RedisInboxSignal
from convoflow.jobs.parked_sends import create_parked_sends
from convoflow.jobs.ratelimit import RateLimiter, create_rate_limiter
from convoflow.jobs.sweeper import Sweeper
from convoflow.jobs.tasks import JobHandlers, register_tasks
from convoflow.outages import Outages
from convoflow.services.access.numbers.tokens import NumberTokens, ServerNumber
from convoflow.services.ai.provider import OpenAiProvider
from convoflow.services.ai.turn import AiTurns
from convoflow.services.campaigns.inbound import CampaignInboundRules
from convoflow.services.conversations.access import ConversationAccess
from convoflow.services.conversations.service import ConversationService
from convoflow.services.conversations.timers import StepTimers
from convoflow.services.inbox.intake import MessageProcessor
from convoflow.services.inbox.webhook import PhoneNumberDirectory
from convoflow.services.inbox.writer import InboxWriter
from convoflow.services.live import LiveEvents, attach_publisher
from convoflow.services.live.local import LocalBroadcaster
from convoflow.services.live.redis_relay import RedisLiveEvents
from convoflow.services.templates.aggregator import MemoryCounts, StatsAggregator
from convoflow.services.templates.catalog import TemplateCatalog
from convoflow.services.templates.redis_counts import RedisCounts
from convoflow.services.templates.tallies import attach_aggregator
from convoflow.services.workflows.dependencies import dependency_finished
from convoflow.services.workflows.effect_results import (
    ResultContext,
    ResultHandler,
    resume_conversation,
    store_end_action_result,
)
from convoflow.sessions.base import ConversationLocks
from convoflow.sessions.locks import InProcessLocks, PostgresAdvisoryLocks, RedisLocks
from convoflow.sessions.redis_store import RedisSessionStore
from convoflow.sessions.sql_store import SqlSessionStore
from convoflow.sessions.states import ConversationStates
from convoflow.settings import Settings
from convoflow.store.database import create_db_session_factory, create_engine
from convoflow.store.transient import REDIS

logger = logging.getLogger(__name__)

#: Graph API and outside calls (effects set their own timeout per call).
HTTP_TIMEOUT_SECONDS = 10.0
#: How long closing waits for deliveries under way before cancelling them.
CLOSE_DRAIN_SECONDS = 5.0


def decode_stored_message(message_type: str, payload: dict[str, Any]) -> Event | None:
    """The engine event of a stored inbound message (WhatsApp message object shape)."""
    return event_for_message(payload, message_type, lambda _problem: None)


#: Effect kind → what its result means. Add a kind here (and an attempt runner in
#: :mod:`convoflow.jobs.effects`) to teach convoflow a new kind of effect.
RESULT_HANDLERS: dict[str, ResultHandler] = {
    "http": resume_conversation,
    "end_action": store_end_action_result,
    "dependency": dependency_finished,
    "llm": resume_conversation,
}


def _waking(
    dispatcher: Dispatcher, outages: Outages
) -> Callable[[list[tuple[str, str]]], Awaitable[None]]:
    """What the inbox writer calls after each stored batch: wake the processors (a lost
    wake-up is logged with the outage and only delays processing to the next poll)."""

    async def wake(customers: list[tuple[str, str]]) -> None:
        try:
            await dispatcher.customers_received(customers)
        except Exception as exc:
            if not outages.absorb(exc, what="waking the processors", service=REDIS):
                logger.exception("could not wake the processors; they poll")
            return
        outages.recovered(REDIS)

    return wake


def create_llm_provider(settings: Settings) -> OpenAiProvider | None:
    """The model provider of ``CONVOFLOW_LLM_*`` (None without a base URL: AI steps then
    answer with their fallback text and hand over, and the log names the setting)."""
    if not settings.llm_base_url:
        return None
    return OpenAiProvider(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value(),
        timeout_seconds=settings.llm_timeout_seconds,
    )


@dataclass(slots=True)
class Runtime:
    """Built once at start-up, closed at shutdown."""

    settings: Settings
    engine: AsyncEngine
    db_sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None
    catalog: TemplateCatalog
    store: ConversationStates
    locks: ConversationLocks
    conversations: ConversationService
    access: ConversationAccess
    processor: MessageProcessor
    timers: StepTimers
    http: httpx.AsyncClient
    graph: GraphClient
    rate_limiter: RateLimiter
    broker: AsyncBroker
    dispatcher: Dispatcher
    jobs: JobHandlers
    sweeper: Sweeper
    outages: Outages
    heartbeats: Heartbeats
    clock: Clock
    token_cipher: TokenCipher
    access_tokens: NumberTokens
    phone_numbers: PhoneNumberDirectory
    live: LiveEvents
    statistics: StatsAggregator
    campaigns: CampaignJobs
    inbox_writer: InboxWriter
    ai: AiTurns
    llm: OpenAiProvider | None

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Runtime:
        """Wire the database, Redis (when configured), session store, locks and services.

        ``clock`` is the one source of time of every part (the system clock by default;
        tests hand in a :class:`~convoflow.clock.FakeClock`).
        """
        clock = clock or SystemClock()
        # One log per service for the whole process: an outage is one line, whoever sees it.
        outages = Outages(clock=clock)
        engine = create_engine(settings.database_url)
        db_sessions = create_db_session_factory(engine)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        # Inbox updates and statistics leave with the commit, through Redis when there is
        # one (every process sees them), else within this process.
        live: LiveEvents = RedisLiveEvents(redis) if redis is not None else LocalBroadcaster()
        attach_publisher(db_sessions, live)
        statistics = StatsAggregator(
            db_sessions, RedisCounts(redis) if redis is not None else MemoryCounts()
        )
        attach_aggregator(db_sessions, statistics)
        store: ConversationStates
        locks: ConversationLocks
        if settings.session_store == "redis" and redis is not None:
            # State lives in Redis and is saved after the database commit, so the lock
            # must outlive the commit: a Redis lock, not a transaction-scoped one.
            store, locks = ConversationStates(RedisSessionStore(redis)), RedisLocks(redis)
        elif settings.is_postgres:
            store, locks = ConversationStates(SqlSessionStore()), PostgresAdvisoryLocks()
        else:
            store, locks = ConversationStates(SqlSessionStore()), InProcessLocks()
        catalog = TemplateCatalog(clock=clock)
        conversations = ConversationService(
            catalog=catalog,
            store=store,
            default_ttl_seconds=settings.session_ttl_seconds,
            llm_debounce_seconds=settings.llm_debounce_ms / 1000.0,
        )
        processor = MessageProcessor(
            db_sessions=db_sessions,
            locks=locks,
            conversations=conversations,
            decode_event=decode_stored_message,
            clock=clock,
            rules=CampaignInboundRules(
                catalog,
                opt_out_words=settings.opt_out_words,
                opt_in_words=settings.opt_in_words,
                opt_out_confirmation=settings.campaign_opt_out_confirmation,
                opt_in_confirmation=settings.campaign_opt_in_confirmation,
            ),
        )
        timers = StepTimers(db_sessions=db_sessions, locks=locks, conversations=conversations)
        # One HTTP client per process for model calls and `http` steps.
        http = httpx.AsyncClient(
            timeout=HTTP_TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )
        # Replies and read marks go through aiohttp: its cost per request is a twentieth
        # of httpx's (see channels/whatsapp/graph_http.py); the rest keeps httpx.
        graph = GraphClient(
            AiohttpTransport(timeout_seconds=HTTP_TIMEOUT_SECONDS, max_connections=100),
            access_token=settings.whatsapp_access_token,
            api_base=settings.whatsapp_api_base,
            api_version=settings.whatsapp_api_version,
        )
        # Generates the key file beside a SQLite database on first start (no secret key set).
        token_cipher = load_token_cipher(
            settings.secret_key.get_secret_value(), settings.database_url
        )
        access_tokens = NumberTokens(
            db_sessions,
            cipher=token_cipher,
            server_number=ServerNumber(
                settings.whatsapp_phone_number_id, settings.whatsapp_access_token
            ),
            clock=clock,
        )
        rate_limiter = create_rate_limiter(settings.whatsapp_max_mps, redis, clock=clock)
        llm = create_llm_provider(settings)
        ai = AiTurns(
            db_sessions=db_sessions,
            provider=llm,
            http=http,
            default_model=settings.llm_model,
            embedding_model=settings.llm_embedding_model,
            clock=clock,
        )
        broker = create_broker(settings, outages=outages)
        inbox_signal = (
            LocalInboxSignal()
            if runs_in_process(broker) or redis is None
            else RedisInboxSignal(redis)
        )
        dispatcher = Dispatcher(broker, inbox=inbox_signal)
        jobs = JobHandlers.build(
            engine=engine,
            db_sessions=db_sessions,
            processor=processor,
            graph=graph,
            limiter=rate_limiter,
            http=http,
            results=ResultContext(
                db_sessions=db_sessions,
                locks=locks,
                conversations=conversations,
                handlers=RESULT_HANDLERS,
                clock=clock,
            ),
            dispatcher=dispatcher,
            end_action_secret=settings.end_action_secret,
            access_tokens=access_tokens,
            parked=create_parked_sends(settings, redis),
            mark_read=settings.whatsapp_mark_read,
            timers=timers,
            outages=outages,
            clock=clock,
            ai=ai,
        )
        register_tasks(broker, jobs)
        campaigns = CampaignJobs(
            db_sessions=db_sessions,
            sending=jobs.sending,
            source=graph,
            tokens=access_tokens,
            default_waba_id=settings.whatsapp_business_account_id,
            sync_every=settings.template_sync_seconds,
            redis=redis,
            outages=outages,
            clock=clock,
        )
        access = ConversationAccess(
            db_sessions=db_sessions,
            locks=locks,
            store=store,
            catalog=catalog,
            conversations=conversations,
            background=dispatcher,
            clock=clock,
            # The terminal chat and the simulator wait for their turns' effects.
            effects_now=EffectsNow(runner=jobs.effects, db_sessions=db_sessions),
        )
        return cls(
            settings=settings,
            engine=engine,
            db_sessions=db_sessions,
            redis=redis,
            catalog=catalog,
            store=store,
            locks=locks,
            conversations=conversations,
            access=access,
            processor=processor,
            timers=timers,
            http=http,
            graph=graph,
            rate_limiter=rate_limiter,
            broker=broker,
            dispatcher=dispatcher,
            jobs=jobs,
            sweeper=Sweeper(
                db_sessions=db_sessions,
                dispatcher=dispatcher,
                redis=redis,
                states=store,
                timers=timers,
                outages=outages,
                clock=clock,
            ),
            outages=outages,
            heartbeats=RedisHeartbeats(redis) if redis is not None else LocalHeartbeats(clock),
            clock=clock,
            token_cipher=token_cipher,
            access_tokens=access_tokens,
            phone_numbers=PhoneNumberDirectory(db_sessions, clock=clock),
            live=live,
            statistics=statistics,
            campaigns=campaigns,
            inbox_writer=InboxWriter(db_sessions, notify=_waking(dispatcher, outages), clock=clock),
            ai=ai,
            llm=llm,
        )

    async def close(self) -> None:
        """Stop sending (what is under way may finish for a few seconds) and release
        connections."""
        await self.jobs.stop_sending(within=CLOSE_DRAIN_SECONDS)
        await self.broker.shutdown()
        await self.statistics.close()
        await self.live.close()
        await self.http.aclose()
        await self.graph.aclose()
        if self.llm is not None:
            await self.llm.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
