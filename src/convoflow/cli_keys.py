"""How the ``convoflow keys`` commands show API keys: a table and one-line answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich import box
from rich.table import Table
from rich.text import Text

from convoflow.services.access.keys import Revocation
from convoflow.store.models import ApiKey


def _when(moment: datetime | None, *, none: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else none


def key_table(keys: Sequence[ApiKey], *, title: str) -> Table:
    """The keys as a table: id, key (prefix and label), created, last used, revoked.

    The prefix is the key's non-secret start (``cfk_`` and 8 characters). Times are UTC, to
    the minute; a key never used says ``never``, a valid one ``no``. On a narrow terminal
    the label goes under the prefix and the time under the date, so an 80-column terminal
    still shows every column.
    """
    table = Table(
        title=f"{title} (times in UTC)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("id", no_wrap=True)
    table.add_column("key", min_width=len(keys[0].key_prefix) if keys else 12)
    for moment in ("created", "last used", "revoked"):
        table.add_column(moment, min_width=len("2000-01-01"))
    for key in keys:
        label = Text(key.key_prefix)
        if key.name:
            label.append(" " + key.name, style="dim")  # the user's text, never Rich markup
        table.add_row(
            key.id,
            label,
            _when(key.created_at, none=""),
            _when(key.last_used_at, none="never"),
            _when(key.revoked_at, none="no"),
        )
    return table


def describe_revocation(revocation: Revocation) -> str:
    """One line saying what ``keys revoke`` did (or that the key had been revoked before)."""
    key = revocation.key
    name = f"{key.id} ({key.key_prefix}...)"
    if revocation.changed:
        return f"revoked API key {name}; requests with it now answer 401"
    revoked_on = _when(key.revoked_at, none="")
    return f"API key {name} was already revoked on {revoked_on} UTC; nothing changed"
