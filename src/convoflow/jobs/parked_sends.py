"""Sends Meta accepted that the database could not record yet: parked until it can.

Meta's answer to a send carries the message's wamid; the Graph API has no idempotency key,
so once that answer is in, the wamid *is* the proof the message went out. When the
database cannot take it (a PostgreSQL restart, a failover), dropping it would leave the row
``queued`` and send it again when its claim runs out. Instead the sender parks
``(row id, wamid)`` somewhere durable, and every sender settles a customer's parked sends
before it claims that customer's rows again, so a parked row is never sent twice.

Where a send is parked:

* **Redis**, when configured: one hash per customer (``convoflow:parked:<owner>:<customer key>``,
  field: the row id), seen by every process. Redis keeps it as durably as the Redis server is
  configured to (AOF or RDB snapshots).
* **a local journal file**, without Redis, or when Redis does not answer either: an
  append-only JSON-lines file (:class:`SendJournal`), flushed and ``fsync``'d before the
  sender goes on, next to the SQLite database or in ``CONVOFLOW_SEND_JOURNAL_DIR``. Processes
  on the same machine share it (``flock``); a process elsewhere does not see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import make_url

from convoflow.settings import Settings

__all__ = [
    "JOURNAL_SUFFIX",
    "Customer",
    "MemoryParking",
    "ParkedSend",
    "ParkedSends",
    "ParkingPlace",
    "RedisParking",
    "SendJournal",
    "create_parked_sends",
]

logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".parked-sends.jsonl"
_REDIS_PREFIX = "convoflow:parked:"
#: A customer: (owner id, customer key).
Customer = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ParkedSend:
    """A message Meta accepted (``wamid``, at ``accepted_at``) whose row still says queued."""

    message_id: int
    owner_id: str
    customer_key: str
    wamid: str
    accepted_at: datetime

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(
            {
                "id": self.message_id,
                "owner": self.owner_id,
                "customer": self.customer_key,
                "wamid": self.wamid,
                "accepted_at": self.accepted_at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ParkedSend:
        """The send :meth:`to_json` wrote (decoded)."""
        return cls(
            message_id=int(fields["id"]),
            owner_id=str(fields["owner"]),
            customer_key=str(fields["customer"]),
            wamid=str(fields["wamid"]),
            accepted_at=datetime.fromisoformat(str(fields["accepted_at"])),
        )


def _row_order(send: ParkedSend) -> int:
    return send.message_id


def _of_customers(sends: Iterable[ParkedSend], customers: Sequence[Customer]) -> list[ParkedSend]:
    wanted = set(customers)
    return sorted(
        (send for send in sends if (send.owner_id, send.customer_key) in wanted), key=_row_order
    )


class ParkingPlace(Protocol):
    """One place parked sends are kept."""

    async def park(self, send: ParkedSend) -> None:
        """Keep ``send`` durably (raise when that did not happen)."""

    async def for_customer(self, owner_id: str, customer_key: str) -> list[ParkedSend]:
        """The customer's parked sends, oldest row first."""

    async def for_customers(self, customers: Sequence[Customer]) -> list[ParkedSend]:
        """The parked sends of any of ``customers``, oldest row first."""

    async def drop(self, send: ParkedSend) -> None:
        """Forget ``send`` (it is recorded in the database now)."""


class RedisParking:
    """Parked sends in Redis, one hash per customer, seen by every process."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def __repr__(self) -> str:
        return "Redis"

    async def park(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.park`."""
        key = _redis_key(send.owner_id, send.customer_key)
        await self._redis.hset(key, str(send.message_id), send.to_json())

    async def for_customer(self, owner_id: str, customer_key: str) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customer`."""
        return await self.for_customers([(owner_id, customer_key)])

    async def for_customers(self, customers: Sequence[Customer]) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customers` (one round trip for all of them)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for owner_id, customer_key in customers:
                pipe.hgetall(_redis_key(owner_id, customer_key))
            hashes = await pipe.execute()
        sends = [
            ParkedSend.from_fields(json.loads(raw)) for stored in hashes for raw in stored.values()
        ]
        return sorted(sends, key=_row_order)

    async def drop(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.drop`."""
        await self._redis.hdel(_redis_key(send.owner_id, send.customer_key), str(send.message_id))


def _redis_key(owner_id: str, customer_key: str) -> str:
    return f"{_REDIS_PREFIX}{owner_id}:{customer_key}"


class SendJournal:
    """Parked sends in an append-only JSON-lines file, ``fsync``'d on every write.

    Each line is ``{"parked": {...}}`` or ``{"settled": <row id>}``; reading replays them.
    Once nothing is left parked the file is emptied, so the usual check is one ``stat`` of
    an empty (or missing) file. Every read and write holds an exclusive ``flock`` on the
    file, so processes on one machine can share it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"SendJournal({str(self.path)!r})"

    async def park(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.park`."""
        await asyncio.to_thread(self._append, {"parked": json.loads(send.to_json())})

    async def for_customer(self, owner_id: str, customer_key: str) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customer`."""
        return await self.for_customers([(owner_id, customer_key)])

    async def for_customers(self, customers: Sequence[Customer]) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customers`."""
        if not self._has_entries():
            return []
        return _of_customers((await asyncio.to_thread(self._replay)).values(), customers)

    async def drop(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.drop`."""
        if self._has_entries():
            await asyncio.to_thread(self._settle, send.message_id)

    def _has_entries(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def _append(self, line: dict[str, Any]) -> None:
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            fcntl.flock(journal, fcntl.LOCK_EX)
            journal.write(json.dumps(line, separators=(",", ":")) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
        if created:  # the new file's directory entry must survive a power cut too
            _fsync_directory(self.path.parent)

    def _replay(self) -> dict[int, ParkedSend]:
        try:
            with self.path.open("r", encoding="utf-8") as journal:
                fcntl.flock(journal, fcntl.LOCK_EX)
                return _replay_lines(journal.read())
        except FileNotFoundError:
            return {}

    def _settle(self, message_id: int) -> None:
        """Note ``message_id`` settled; empty the file when nothing is left parked."""
        with (
            contextlib.suppress(FileNotFoundError),
            self.path.open("r+", encoding="utf-8") as journal,
        ):
            fcntl.flock(journal, fcntl.LOCK_EX)
            left = _replay_lines(journal.read())
            if message_id not in left:
                return
            del left[message_id]
            if left:
                journal.write(json.dumps({"settled": message_id}) + "\n")
            else:
                journal.seek(0)
                journal.truncate()
            journal.flush()
            os.fsync(journal.fileno())


def _replay_lines(text: str) -> dict[int, ParkedSend]:
    entries: dict[int, ParkedSend] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by a crash while it was written
            logger.warning("skipping an unreadable line in the send journal: %r", line[:200])
            continue
        if "parked" in record:
            send = ParkedSend.from_fields(record["parked"])
            entries[send.message_id] = send
        elif "settled" in record:
            entries.pop(int(record["settled"]), None)
    return entries


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class MemoryParking:
    """Parked sends in this process's memory: not durable, for tests and tools only."""

    def __init__(self) -> None:
        self._entries: dict[int, ParkedSend] = {}

    async def park(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.park`."""
        self._entries[send.message_id] = send

    async def for_customer(self, owner_id: str, customer_key: str) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customer`."""
        return await self.for_customers([(owner_id, customer_key)])

    async def for_customers(self, customers: Sequence[Customer]) -> list[ParkedSend]:
        """See :meth:`ParkingPlace.for_customers`."""
        return _of_customers(self._entries.values(), customers)

    async def drop(self, send: ParkedSend) -> None:
        """See :meth:`ParkingPlace.drop`."""
        self._entries.pop(send.message_id, None)


class ParkedSends:
    """Where the sender parks what it could not record: ``primary``, else ``fallback``.

    Reading asks both, so a send parked in the fallback while the primary was down too is
    settled like any other.
    """

    def __init__(self, primary: ParkingPlace, fallback: ParkingPlace | None = None) -> None:
        self.primary = primary
        self.fallback = fallback

    async def park(self, send: ParkedSend) -> bool:
        """Keep ``send``; False when no place could take it (it may then go out twice)."""
        for place in (self.primary, self.fallback):
            if place is None:
                continue
            try:
                await place.park(send)
            except Exception as error:  # this place is down too: try the next one
                logger.warning("could not park message %s in %s: %r", send.message_id, place, error)
                continue
            return True
        logger.error(
            "message %s was accepted by Meta as %s but could not be recorded or parked; "
            "it may be sent again",
            send.message_id,
            send.wamid,
        )
        return False

    async def for_customer(self, owner_id: str, customer_key: str) -> list[ParkedSend]:
        """The customer's parked sends in every place (raises when a place cannot say)."""
        return await self.for_customers([(owner_id, customer_key)])

    async def for_customers(self, customers: Sequence[Customer]) -> list[ParkedSend]:
        """The parked sends of any of ``customers`` in every place, oldest row first
        (raises when a place cannot say)."""
        found = await self.primary.for_customers(customers)
        if self.fallback is not None:
            found += await self.fallback.for_customers(customers)
        return sorted({send.message_id: send for send in found}.values(), key=_row_order)

    async def drop(self, send: ParkedSend) -> None:
        """Forget ``send`` everywhere it may be parked."""
        for place in (self.primary, self.fallback):
            if place is not None:
                await place.drop(send)


def journal_path(settings: Settings) -> Path:
    """The send journal of this database: next to an SQLite file, or in the configured
    directory (``CONVOFLOW_SEND_JOURNAL_DIR``, default: the working directory) under a name
    that identifies the database, so two databases never share one journal."""
    url = make_url(settings.database_url)
    if settings.send_journal_dir:
        directory = Path(settings.send_journal_dir)
    elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_name(Path(url.database).name + JOURNAL_SUFFIX)
    else:
        directory = Path.cwd()
    identity = url.set(password=None).render_as_string(hide_password=False)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return directory / f"convoflow-{digest}{JOURNAL_SUFFIX}"


def create_parked_sends(settings: Settings, redis: Redis | None) -> ParkedSends:
    """Redis first when configured, the local journal as the fallback (or the only place)."""
    journal = SendJournal(journal_path(settings))
    if redis is None:
        return ParkedSends(journal)
    return ParkedSends(RedisParking(redis), fallback=journal)
