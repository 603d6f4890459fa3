"""The sender when PostgreSQL, Redis or the Graph API goes away mid-send (real outages through
a TCP proxy): nothing Meta accepted is sent twice, and claims hold a customer for seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.engine import make_url

from convoflow.channels.whatsapp.graph import GraphClient
from convoflow.clock import FakeClock
from convoflow.jobs.outbox_claims import CLAIM_SECONDS
from convoflow.jobs.parked_sends import ParkedSends, ParkingPlace, RedisParking, SendJournal
from convoflow.jobs.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from convoflow.jobs.sender import OutboxSender, SenderPolicy
from convoflow.runtime import Runtime
from convoflow.store.types import utcnow
from tests.jobs.helpers import add_contact, outbound, queue_texts, started_runtime, texts_of
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT
from tests.support.graph_stub import GraphStub, RecordedRequest
from tests.support.tcp_proxy import TcpProxy, proxy_to
from tests.support.webhooks import eventually

pytestmark = pytest.mark.postgres

CUSTOMER = "15550002222"
#: The longest a dead sender may hold a customer back (the claim was 30 s).
SHORT_CLAIM_SECONDS = 10.0
TEXTS = ["one", "two", "three"]


def through(proxy: TcpProxy, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


@pytest.fixture
async def database_proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test PostgreSQL server."""
    async with proxy_to(POSTGRES_HOST, POSTGRES_PORT) as proxy:
        yield proxy


@pytest.fixture
async def runtime_behind(
    pg_url: str, graph_stub: GraphStub, database_proxy: TcpProxy
) -> AsyncIterator[Runtime]:
    """A runtime whose database is reached through ``database_proxy``."""
    async with started_runtime(through(database_proxy, pg_url), graph_stub) as runtime:
        yield runtime
        if not database_proxy.listening:
            await database_proxy.start()  # the teardown needs the database back,
        await runtime.engine.dispose()  # on connections the outage did not cut


def sender(
    runtime: Runtime,
    clock: FakeClock,
    *,
    parked: ParkingPlace | None = None,
    limiter: RateLimiter | None = None,
    graph: GraphClient | None = None,
    policy: SenderPolicy | None = None,
) -> OutboxSender:
    return OutboxSender(
        engine=runtime.engine,
        db_sessions=runtime.db_sessions,
        graph=graph or runtime.graph,
        limiter=limiter or LocalRateLimiter(1000),
        policy=policy,
        parked=ParkedSends(parked) if parked is not None else None,
        clock=clock,
    )


def on_first_accept(stub: GraphStub, action: Callable[[], Any]) -> None:
    """Run ``action`` (in the stub's thread) while the stub answers its first accepted send."""
    done: list[bool] = []

    def hook(_request: RecordedRequest) -> None:
        if not done:
            done.append(True)
            action()

    stub.on_accept(hook)


def stop_while_answering(stub: GraphStub, proxy: TcpProxy) -> None:
    """The database goes away between Meta accepting the first send and its answer."""
    loop = asyncio.get_running_loop()
    on_first_accept(
        stub, lambda: asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(timeout=30)
    )


async def queued_customer(runtime: Runtime) -> tuple[str, FakeClock]:
    owner = await add_contact(runtime, CUSTOMER)
    await queue_texts(runtime, CUSTOMER, TEXTS)
    return owner, FakeClock(utcnow())


async def assert_each_sent_once_with_its_wamid(runtime: Runtime, stub: GraphStub) -> None:
    assert texts_of(stub.requests) == TEXTS  # each POSTed once, none refused
    assert texts_of(stub.sent) == TEXTS
    rows = await outbound(runtime, CUSTOMER)
    assert [row.status for row in rows] == ["sent"] * len(TEXTS)
    assert [row.wamid for row in rows] == [request.wamid for request in stub.sent]


async def parked_sends(place: ParkingPlace, owner: str) -> int:
    return len(await place.for_customer(owner, CUSTOMER))


async def test_a_send_accepted_while_the_database_restarts_is_recorded_not_resent(
    runtime_behind: Runtime, graph_stub: GraphStub, database_proxy: TcpProxy, tmp_path: Path
) -> None:
    owner, clock = await queued_customer(runtime_behind)
    journal = SendJournal(tmp_path / "sends.jsonl")
    outage_sender = sender(runtime_behind, clock, parked=journal)
    stop_while_answering(graph_stub, database_proxy)

    delivery = asyncio.create_task(outage_sender.deliver_customer(owner, CUSTOMER))

    async def parked() -> bool:
        return await parked_sends(journal, owner) == 1

    await eventually(parked, what="the accepted send to be parked")
    await database_proxy.start()  # back within the claim: the retried write lands
    report = await delivery

    assert report.sent == len(TEXTS) and report.parked == 0
    assert await parked_sends(journal, owner) == 0
    clock.advance(CLAIM_SECONDS * 3)  # no claim left to lapse into a second send
    await outage_sender.deliver_customer(owner, CUSTOMER)
    await assert_each_sent_once_with_its_wamid(runtime_behind, graph_stub)


@pytest.fixture(params=["journal", "redis"])
async def parking_place(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], ParkingPlace]]:
    """Makes what one process sees of the parked sends: the journal file, or Redis."""
    if request.param == "journal":
        yield lambda: SendJournal(tmp_path / "sends.jsonl")
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.flushdb()
    yield lambda: RedisParking(redis)
    await redis.flushdb()
    await redis.aclose()


async def test_a_database_away_longer_than_the_claim_gets_the_parked_send_recorded_first(
    runtime_behind: Runtime,
    graph_stub: GraphStub,
    database_proxy: TcpProxy,
    parking_place: Callable[[], ParkingPlace],
) -> None:
    owner, clock = await queued_customer(runtime_behind)
    first_process = parking_place()
    stop_while_answering(graph_stub, database_proxy)
    delivery = asyncio.create_task(
        sender(runtime_behind, clock, parked=first_process).deliver_customer(owner, CUSTOMER)
    )

    async def parked() -> bool:
        return await parked_sends(first_process, owner) == 1

    await eventually(parked, what="the accepted send to be parked")
    clock.advance(CLAIM_SECONDS + 1)  # the claim runs out with the database still away
    report = await delivery
    assert (report.sent, report.parked) == (0, 1)

    await database_proxy.start()
    second_process = parking_place()
    report = await sender(runtime_behind, clock, parked=second_process).deliver_customer(
        owner, CUSTOMER
    )

    assert report.sent == len(TEXTS) - 1
    assert await parked_sends(second_process, owner) == 0
    await assert_each_sent_once_with_its_wamid(runtime_behind, graph_stub)


async def test_while_a_parked_send_cannot_be_recorded_nothing_is_claimed(
    runtime_behind: Runtime, graph_stub: GraphStub, database_proxy: TcpProxy, tmp_path: Path
) -> None:
    owner, clock = await queued_customer(runtime_behind)
    journal = SendJournal(tmp_path / "sends.jsonl")
    stop_while_answering(graph_stub, database_proxy)
    delivery = asyncio.create_task(
        sender(runtime_behind, clock, parked=journal).deliver_customer(owner, CUSTOMER)
    )

    async def parked() -> bool:
        return await parked_sends(journal, owner) == 1

    await eventually(parked, what="the accepted send to be parked")
    clock.advance(CLAIM_SECONDS + 1)
    await delivery

    report = await sender(runtime_behind, clock, parked=journal).deliver_customer(owner, CUSTOMER)

    assert (report.sent, report.parked) == (0, 0)
    assert texts_of(graph_stub.sent) == ["one"]
    assert await parked_sends(journal, owner) == 1


async def test_a_send_interrupted_before_meta_leaves_the_customer_deliverable_at_once(
    app_runtime: Runtime, graph_stub: GraphStub, redis_url: str
) -> None:
    owner, clock = await queued_customer(app_runtime)
    redis_address = urlparse(redis_url)
    async with proxy_to(redis_address.hostname or "127.0.0.1", redis_address.port or 6379) as proxy:
        redis = Redis(host="127.0.0.1", port=proxy.port, retry=Retry(NoBackoff(), 0))
        await proxy.stop()  # Redis, and with it the shared rate limit, is away
        try:
            with pytest.raises(RedisConnectionError):
                await sender(
                    app_runtime, clock, limiter=RedisRateLimiter(redis, 1000)
                ).deliver_customer(owner, CUSTOMER)
        finally:
            await redis.aclose()

    assert graph_stub.requests == []
    report = await sender(app_runtime, clock).deliver_customer(owner, CUSTOMER)  # no time passed
    assert report.sent == len(TEXTS)
    await assert_each_sent_once_with_its_wamid(app_runtime, graph_stub)


@pytest.fixture
async def hanging_graph(graph_stub: GraphStub) -> AsyncIterator[tuple[GraphClient, TcpProxy]]:
    """A Graph API that takes a send and never answers (a black hole in front of the stub)."""
    proxy = TcpProxy("127.0.0.1", int(graph_stub.url.rsplit(":", 1)[1]))
    await proxy.start(black_hole=True)
    async with httpx.AsyncClient(timeout=120) as http:
        graph = GraphClient(
            http, access_token=graph_stub.access_token, api_base=f"http://127.0.0.1:{proxy.port}"
        )
        yield graph, proxy
    await proxy.stop()


async def in_flight(proxy: TcpProxy) -> None:
    async def posted() -> bool:
        return proxy.open_connections > 0

    await eventually(posted, what="the send to reach the Graph API")


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_sender_gone_during_the_graph_call_holds_the_customer_for_one_short_claim(
    app_runtime: Runtime, graph_stub: GraphStub, hanging_graph: tuple[GraphClient, TcpProxy]
) -> None:
    owner, clock = await queued_customer(app_runtime)
    graph, black_hole = hanging_graph
    gone = asyncio.create_task(
        sender(app_runtime, clock, graph=graph).deliver_customer(owner, CUSTOMER)
    )
    await in_flight(black_hole)
    await stop(gone)  # Meta may have the message: the claim stays until it lapses

    assert (await sender(app_runtime, clock).deliver_customer(owner, CUSTOMER)).sent == 0
    clock.advance(SHORT_CLAIM_SECONDS)
    assert (await sender(app_runtime, clock).deliver_customer(owner, CUSTOMER)).sent == len(TEXTS)
    await assert_each_sent_once_with_its_wamid(app_runtime, graph_stub)


async def test_a_graph_call_longer_than_the_claim_keeps_the_customer_claimed(
    app_runtime: Runtime, graph_stub: GraphStub, hanging_graph: tuple[GraphClient, TcpProxy]
) -> None:
    owner, clock = await queued_customer(app_runtime)
    graph, black_hole = hanging_graph
    renewing = SenderPolicy(renew_every=0.05)
    slow = asyncio.create_task(
        sender(app_runtime, clock, graph=graph, policy=renewing).deliver_customer(owner, CUSTOMER)
    )
    await in_flight(black_hole)
    try:
        for _ in range(3):  # 15 s in all, longer than one claim
            clock.advance(CLAIM_SECONDS / 2)

            async def renewed() -> bool:
                [head, *_] = await outbound(app_runtime, CUSTOMER)
                return head.next_attempt_at is not None and head.next_attempt_at > clock.now()

            await eventually(renewed, what="the claim to be renewed")

        report = await sender(app_runtime, clock).deliver_customer(owner, CUSTOMER)
        assert report.sent == 0 and graph_stub.requests == []
    finally:
        await stop(slow)
