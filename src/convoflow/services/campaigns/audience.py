"""Who a campaign goes to: contacts chosen by filters, an uploaded CSV, or a flow's
``recipientArray``; numbers normalised to WhatsApp ids (E.164 digits) and de-duplicated.

A value that is not a valid phone number is reported with its row and never sent. A CSV
needs a header row with a ``phone`` column (also accepted: ``number``, ``wa_id``,
``whatsapp``); a ``timezone`` column gives the recipient's timezone (else it is taken from
the number's country code); every other column is a per-recipient parameter, available as
``{{recipient.<column>}}``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from convoflow.errors import InvalidData
from convoflow.store.models import Contact, UserType

__all__ = [
    "Audience",
    "ContactFilters",
    "Recipient",
    "RejectedRow",
    "from_contacts",
    "from_csv",
    "from_entries",
    "normalise_number",
    "valid_timezone",
]

PHONE_COLUMNS = ("phone", "number", "wa_id", "whatsapp", "phone_number")
TIMEZONE_COLUMN = "timezone"
#: CSV limits: an upload is held in memory while it is read.
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_COLUMNS = 50
MAX_REPORTED = 200
_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One normalised recipient: WhatsApp id, contact (if known), columns and timezone."""

    customer_key: str
    contact_id: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that was not taken: where, what it held and why."""

    row: int
    value: str
    reason: str


@dataclass(slots=True)
class Audience:
    """The recipients, and what was left out."""

    recipients: list[Recipient] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    rejected_count: int = 0
    duplicates: int = 0

    def reject(self, row: int, value: str, reason: str) -> None:
        """Report a row (the first :data:`MAX_REPORTED` in detail)."""
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append(RejectedRow(row, value[:64], reason))


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """Which contacts: all given conditions hold. ``tags``: any of them; ``opted_in``
    (default True) leaves out contacts who opted out."""

    user_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    last_seen_after: datetime | None = None
    last_seen_before: datetime | None = None
    opted_in: bool = True


def normalise_number(value: str) -> str | None:
    """E.164 digits (``4915112345678``) of an international number, or None if invalid."""
    text = _SEPARATORS.sub("", value.strip())
    if text.startswith("00"):
        text = text[2:]
    text = text.removeprefix("+")
    if not text.isdigit() or not 7 <= len(text) <= 15:
        return None
    try:
        number = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def number_timezone(customer_key: str) -> str | None:
    """The timezone of a number's country (the first, where a country has several)."""
    try:
        number = phonenumbers.parse("+" + customer_key, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [zone for zone in phone_timezones.time_zones_for_number(number) if "/" in zone]
    zones = [zone for zone in zones if zone != "Etc/Unknown"]
    return zones[0] if zones else None


def valid_timezone(name: str) -> bool:
    """True for an IANA timezone name this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def from_entries(entries: Iterable[tuple[int, str, Mapping[str, str]]]) -> Audience:
    """Normalise ``(row, number, columns)`` entries, rejecting bad numbers and duplicates."""
    audience = Audience()
    seen: set[str] = set()
    for row, value, columns in entries:
        key = normalise_number(value)
        if key is None:
            audience.reject(row, value, "not a valid phone number (use the international format)")
            continue
        if key in seen:
            audience.duplicates += 1
            continue
        seen.add(key)
        zone = (columns.get(TIMEZONE_COLUMN) or "").strip() or None
        if zone is not None and not valid_timezone(zone):
            audience.reject(row, zone, "unknown timezone")
            seen.discard(key)
            continue
        extra = {k: v for k, v in columns.items() if k != TIMEZONE_COLUMN}
        audience.recipients.append(
            Recipient(customer_key=key, columns=extra, timezone=zone or number_timezone(key))
        )
    return audience


def from_csv(text: str) -> Audience:
    """Recipients of a CSV upload (see the module docstring for its columns)."""
    if len(text.encode()) > MAX_CSV_BYTES:
        raise InvalidData("csv", f"is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header:
        raise InvalidData("csv", "is empty: it needs a header row with a phone column")
    names = [name.strip().lower() for name in header]
    if len(names) > MAX_COLUMNS:
        raise InvalidData("csv", f"has more than {MAX_COLUMNS} columns")
    phone_index = next((i for i, name in enumerate(names) if name in PHONE_COLUMNS), None)
    if phone_index is None:
        raise InvalidData("csv", f"needs a phone column (one of: {', '.join(PHONE_COLUMNS)})")

    def entries() -> Iterable[tuple[int, str, Mapping[str, str]]]:
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            columns = {
                name: cells[i].strip() if i < len(cells) else ""
                for i, name in enumerate(names)
                if i != phone_index and name
            }
            yield line, cells[phone_index] if phone_index < len(cells) else "", columns

    return from_entries(entries())


def from_recipient_array(items: list[Any]) -> Audience:
    """Recipients of a Flow Runner ``recipientArray``: numbers, or objects with a phone
    field and further fields as columns."""
    entries: list[tuple[int, str, Mapping[str, str]]] = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, str | int):
            entries.append((index, str(item), {}))
        elif isinstance(item, Mapping):
            phone = next((str(item[k]) for k in PHONE_COLUMNS if item.get(k) is not None), "")
            columns = {
                str(k): str(v)
                for k, v in item.items()
                if k not in PHONE_COLUMNS and isinstance(v, str | int | float)
            }
            entries.append((index, phone, columns))
        else:
            entries.append((index, "", {}))
    return from_entries(entries)


def contact_query(owner_id: str, filters: ContactFilters) -> Select[Contact]:
    """The owner's contacts matching ``filters`` (tags are checked in Python)."""
    query = select(Contact).where(Contact.owner_id == owner_id)
    if filters.opted_in:
        query = query.where(Contact.opted_out.is_(False))
    if filters.last_seen_after is not None:
        query = query.where(Contact.last_seen_at >= filters.last_seen_after)
    if filters.last_seen_before is not None:
        query = query.where(Contact.last_seen_at < filters.last_seen_before)
    if filters.user_types:
        by_name = select(UserType.id).where(
            UserType.owner_id == owner_id, UserType.name.in_(filters.user_types)
        )
        query = query.where(
            Contact.user_type_id.in_(filters.user_types) | Contact.user_type_id.in_(by_name)
        )
    return query.order_by(Contact.first_seen_at, Contact.id)


async def from_contacts(
    db_session: AsyncSession, owner_id: str, filters: ContactFilters
) -> Audience:
    """The owner's contacts matching ``filters``, as recipients (contact fields as
    columns: ``name``)."""
    audience = Audience()
    wanted = {tag.casefold() for tag in filters.tags}
    result = await db_session.stream_scalars(contact_query(owner_id, filters))
    async for contact in result:
        if wanted and not wanted & {str(tag).casefold() for tag in contact.tags or []}:
            continue
        zone = number_timezone(contact.wa_id) if contact.wa_id else None
        audience.recipients.append(
            Recipient(
                customer_key=contact.customer_key,
                contact_id=contact.id,
                columns={"name": contact.name},
                timezone=zone,
            )
        )
    return audience
