"""``/readyz`` while the database or Redis goes away and comes back, through a TCP proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from convoflow.api.health import NO_WORKER
from convoflow.clock import FakeClock
from convoflow.store.models import WhatsAppMessage
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT, REDIS_URL
from tests.support.tcp_proxy import TcpProxy, proxy_to
from tests.support.webhooks import (
    PHONE_NUMBER_ID,
    WebhookClient,
    app_settings,
    clean_app,
    running_app,
    text,
)

pytestmark = pytest.mark.postgres


def through(proxy: TcpProxy, url: str) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


@asynccontextmanager
async def app_behind(proxy: TcpProxy, pg_url: str, **settings: Any) -> AsyncIterator[WebhookClient]:
    """The app with its database reached through ``proxy``."""
    async with running_app(app_settings(through(proxy, pg_url), **settings), seeded=False) as app:
        yield app


async def readyz(app: WebhookClient) -> tuple[int, dict[str, Any]]:
    response = await app.http.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_database_away_answers_503_then_200_once_it_is_back(pg_url: str) -> None:
    async with (
        proxy_to(POSTGRES_HOST, POSTGRES_PORT) as proxy,
        app_behind(proxy, pg_url) as app,
    ):
        assert await readyz(app) == (
            200,
            {
                "status": "ok",
                "checks": {"database": "up", "redis": "not configured", "workers": "alive"},
                "errors": {},
                "workers_alive": 1,  # jobs run in the server: it is its own worker
                "backlog_age_seconds": {"inbound": 0.0, "outbound": 0.0},
            },
        )

        await proxy.stop()
        status, body = await readyz(app)
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "down"
        assert body["errors"] == {"database": "connection refused"}
        assert body["backlog_age_seconds"] is None  # unknown while the database is away

        await proxy.start()
        status, body = await readyz(app)
        assert (status, body["checks"]["database"], body["errors"]) == (200, "up", {})


async def test_first_probe_after_the_database_returns_is_ready_despite_dead_pooled_connections(
    pg_url: str,
) -> None:
    async with (
        proxy_to(POSTGRES_HOST, POSTGRES_PORT) as proxy,
        app_behind(proxy, pg_url) as app,
    ):
        assert (await readyz(app))[0] == 200  # leaves a connection in the pool
        await proxy.stop()  # that connection dies, unnoticed
        await proxy.start()

        status, body = await readyz(app)
        assert (status, body["checks"]["database"]) == (200, "up")


async def test_a_database_that_never_answers_fails_readyz_within_its_time_limit(
    pg_url: str,
) -> None:
    async with (
        proxy_to(POSTGRES_HOST, POSTGRES_PORT) as proxy,
        app_behind(proxy, pg_url, ready_timeout_seconds=1.0) as app,
    ):
        await proxy.stop()
        await proxy.start(black_hole=True)  # connections are accepted, nothing comes back

        status, body = await readyz(app)
        assert (status, body["checks"]["database"]) == (503, "down")
        assert body["errors"] == {"database": "no answer within 1 s"}

        await proxy.stop()
        await proxy.start()
        assert (await readyz(app))[0] == 200


async def test_redis_away_still_answers_200_reports_it_down_and_webhooks_are_stored(
    pg_url: str, redis_client: Redis
) -> None:
    redis = urlsplit(REDIS_URL)
    async with (
        proxy_to(redis.hostname or "127.0.0.1", redis.port or 6379) as redis_proxy,
        clean_app(pg_url, redis_url=f"redis://127.0.0.1:{redis_proxy.port}{redis.path}") as app,
    ):
        await app.runtime.heartbeats.beat("worker-1", ttl_seconds=600, about={})
        status, body = await readyz(app)
        assert (status, body["status"], body["errors"]) == (200, "ok", {})
        assert body["checks"] == {"database": "up", "redis": "up", "workers": "alive"}
        assert body["workers_alive"] == 1

        await redis_proxy.stop()
        status, body = await readyz(app)
        assert (status, body["status"]) == (200, "degraded")
        assert body["checks"] == {"database": "up", "redis": "down", "workers": "unknown"}
        assert body["errors"] == {"redis": "connection refused"}
        assert body["workers_alive"] is None
        await app.send(text("15550700071", "hi"))
        async with app.runtime.db_sessions() as db_session:
            stored = await db_session.scalar(select(func.count()).select_from(WhatsAppMessage))
        assert stored == 1

        await redis_proxy.start()
        status, body = await readyz(app)
        assert (status, body["status"], body["checks"]["redis"]) == (200, "ok", "up")


async def test_a_redis_that_never_answers_is_reported_down_within_its_time_limit(
    pg_url: str, redis_client: Redis
) -> None:
    redis = urlsplit(REDIS_URL)
    async with proxy_to(redis.hostname or "127.0.0.1", redis.port or 6379) as redis_proxy:
        redis_url = f"redis://127.0.0.1:{redis_proxy.port}{redis.path}"
        async with clean_app(pg_url, redis_url=redis_url, ready_timeout_seconds=1.0) as app:
            await redis_proxy.stop()
            await redis_proxy.start(black_hole=True)

            status, body = await readyz(app)
            assert (status, body["status"]) == (200, "degraded")
            assert body["errors"] == {"redis": "no answer within 1 s"}
            assert body["workers_alive"] is None

            await redis_proxy.stop()
            await redis_proxy.start()
            assert (await readyz(app))[1]["checks"]["redis"] == "up"


async def test_no_worker_alive_is_degraded_not_unready_and_the_backlog_ages_with_the_clock(
    pg_url: str, redis_client: Redis
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with clean_app(pg_url, redis_url=REDIS_URL, clock=clock) as app:  # no worker runs
        await app.send(text("15550700081", "hi"))  # stored; its job waits in Redis
        status, body = await readyz(app)
        assert (status, body["status"], body["workers_alive"]) == (200, "degraded", 0)
        assert body["checks"]["workers"] == "none alive"
        assert body["errors"] == {"workers": NO_WORKER}
        assert body["backlog_age_seconds"] == {"inbound": 0.0, "outbound": 0.0}

        clock.advance(90)
        await queue_reply(app, due_in=0.0)
        await queue_reply(app, due_in=600.0)  # waiting for a retry: not counted yet
        assert (await readyz(app))[1]["backlog_age_seconds"] == {"inbound": 90.0, "outbound": 0.0}

        clock.advance(30)
        assert (await readyz(app))[1]["backlog_age_seconds"] == {
            "inbound": 120.0,
            "outbound": 30.0,
        }

        await app.runtime.heartbeats.beat("worker-1", ttl_seconds=600, about={})
        status, body = await readyz(app)
        assert (status, body["status"], body["workers_alive"], body["errors"]) == (200, "ok", 1, {})


async def queue_reply(app: WebhookClient, *, due_in: float) -> None:
    """An outbound row queued now, due ``due_in`` seconds from now."""
    now = app.runtime.clock.now()
    async with app.runtime.db_sessions.begin() as db_session:
        db_session.add(
            WhatsAppMessage(
                owner_id=None,
                phone_number_id=PHONE_NUMBER_ID,
                customer_key="15550700081",
                direction="out",
                type="text",
                payload={"type": "text", "text": {"body": "later"}},
                status="queued",
                attempts=0,
                next_attempt_at=now + timedelta(seconds=due_in),
                created_at=now,
            )
        )
