"""Where accepted sends wait while the database cannot record them: the journal and Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from convoflow.jobs.parked_sends import (
    JOURNAL_SUFFIX,
    ParkedSend,
    ParkedSends,
    RedisParking,
    SendJournal,
    journal_path,
)
from tests.conftest import make_settings

ACCEPTED_AT = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def parked(message_id: int, customer_key: str = "15550001111") -> ParkedSend:
    return ParkedSend(
        message_id=message_id,
        owner_id="owner",
        customer_key=customer_key,
        wamid=f"wamid.{message_id}",
        accepted_at=ACCEPTED_AT,
    )


async def test_the_journal_survives_the_process_that_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "sends.jsonl"
    writer = SendJournal(path)
    await writer.park(parked(7))
    await writer.park(parked(3))
    await writer.park(parked(9, customer_key="someone else"))

    reader = SendJournal(path)  # another process, or this one after a restart

    assert await reader.for_customer("owner", "15550001111") == [parked(3), parked(7)]
    assert await reader.for_customer("owner", "someone else") == [
        parked(9, customer_key="someone else")
    ]


async def test_the_journal_is_emptied_once_nothing_is_parked(tmp_path: Path) -> None:
    journal = SendJournal(tmp_path / "sends.jsonl")
    await journal.park(parked(1))
    await journal.park(parked(2))

    await journal.drop(parked(1))
    assert await journal.for_customer("owner", "15550001111") == [parked(2)]
    assert journal.path.stat().st_size > 0

    await journal.drop(parked(2))
    assert await journal.for_customer("owner", "15550001111") == []
    assert journal.path.stat().st_size == 0


async def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    journal = SendJournal(tmp_path / "sends.jsonl")
    await journal.park(parked(1))
    with journal.path.open("a", encoding="utf-8") as file:
        file.write('{"parked": {"id": 2, "own')

    assert await journal.for_customer("owner", "15550001111") == [parked(1)]


async def test_without_a_journal_file_nothing_is_parked(tmp_path: Path) -> None:
    journal = SendJournal(tmp_path / "never-written.jsonl")

    assert await journal.for_customer("owner", "15550001111") == []
    await journal.drop(parked(1))
    assert not journal.path.exists()


async def test_redis_keeps_parked_sends_for_every_process(redis_client: Redis) -> None:
    await RedisParking(redis_client).park(parked(5))

    other_process = RedisParking(redis_client)
    assert await other_process.for_customer("owner", "15550001111") == [parked(5)]
    await other_process.drop(parked(5))
    assert await RedisParking(redis_client).for_customer("owner", "15550001111") == []


async def test_with_redis_away_too_the_send_goes_to_the_journal(tmp_path: Path) -> None:
    unreachable = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    journal = SendJournal(tmp_path / "sends.jsonl")
    places = ParkedSends(RedisParking(unreachable), fallback=journal)
    try:
        assert await places.park(parked(4))
    finally:
        await unreachable.aclose()

    assert await journal.for_customer("owner", "15550001111") == [parked(4)]


def test_the_journal_lives_next_to_the_sqlite_database_or_where_configured(
    tmp_path: Path,
) -> None:
    database = tmp_path / "convoflow.db"
    next_to_it = make_settings(f"sqlite+aiosqlite:///{database}", send_journal_dir=None)
    assert journal_path(next_to_it) == Path(f"{database}{JOURNAL_SUFFIX}")

    postgres = "postgresql+asyncpg://convoflow:secret@db:5432/convoflow"
    other = "postgresql+asyncpg://convoflow:secret@db:5432/staging"
    configured = journal_path(make_settings(postgres, send_journal_dir=str(tmp_path)))
    assert configured.parent == tmp_path and configured.name.endswith(JOURNAL_SUFFIX)
    assert "secret" not in configured.name
    assert configured != journal_path(make_settings(other, send_journal_dir=str(tmp_path)))
