"""The per-number rate limit, in process and shared through Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from convoflow.jobs.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter, acquire

MakeLimiter = Callable[[float], RateLimiter]


@pytest.fixture(params=["local", "redis"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    if request.param == "local":
        yield LocalRateLimiter
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    await client.flushdb()
    yield lambda rate: RedisRateLimiter(client, rate)
    await client.flushdb()
    await client.aclose()


async def test_a_burst_passes_then_the_next_message_waits(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(10)

    first = await limiter.reserve("number-a")
    second = await limiter.reserve("number-a")

    assert first == 0.0  # one second's 10 % burst share is one message at 10/s
    assert 0.0 < second <= 0.1
    assert await limiter.reserve("number-b") == 0.0  # another number has its own budget


async def test_many_per_second_allow_a_short_burst(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(100)

    waits = [await limiter.reserve("number") for _ in range(20)]

    assert waits[:9] == [0.0] * 9
    assert any(wait > 0.0 for wait in waits[9:])


async def test_a_pause_holds_the_number_back(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(1000)

    await limiter.pause("number", 5.0)

    assert await limiter.reserve("number") > 4.0
    assert await limiter.reserve("other") == 0.0


async def test_acquire_hands_back_long_waits_instead_of_sleeping(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(1000)
    await limiter.pause("number", 5.0)

    assert await acquire(limiter, "number", max_wait=0.5) > 4.0
    assert await acquire(limiter, "free", max_wait=0.5) == 0.0


async def test_processes_share_one_budget_through_redis(redis_client: Redis) -> None:
    one, two = RedisRateLimiter(redis_client, 10), RedisRateLimiter(redis_client, 10)

    assert await one.reserve("number") == 0.0
    assert await two.reserve("number") > 0.0


async def test_a_batch_reservation_takes_what_single_ones_would(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(100)

    taken = await limiter.reserve_many("number", 20)

    assert 9 <= taken < 20  # the burst allowance, not the whole batch
    assert await limiter.reserve("number") > 0.0  # the next one waits, as after 9 single ones
    assert await limiter.reserve_many("other", 3) == 3


async def test_a_batch_of_campaign_sends_takes_no_burst(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(100)

    assert await limiter.reserve_many("number", 20, spare=True) == 1
    assert await limiter.reserve_many("number", 20, spare=True) == 0
