"""Typed inbound updates parsed once, at the edge, from a WhatsApp Cloud API webhook.

:func:`parse_webhook` walks every ``entry[]``, ``changes[]``, ``messages[]``, ``statuses[]``
and ``errors[]`` of a ``messages`` webhook and returns frozen dataclasses. It never raises:
anything with the wrong shape (strings where objects belong, nulls, huge strings, nested
garbage) is skipped and described in :attr:`ParsedWebhook.problems`, so one bad update in a
batch of a thousand costs only itself.

Customers may come without a phone number (2026 usernames): a message carries ``from``
and/or ``from_user_id`` (the business-scoped user id, BSUID), a contact ``wa_id`` and/or
``user_id``; any one of them is enough. See :func:`customer_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from convoflow.channels.whatsapp._fields import (
    as_dict,
    as_id,
    as_int,
    as_list,
    as_str,
    as_timestamp,
    as_token,
    kind_of,
)
from convoflow.channels.whatsapp.inbound_events import event_for_message
from convoflow.engine.events import Event
from convoflow.errors import InvalidArgument

__all__ = [
    "ErrorDetail",
    "InboundMessage",
    "ParsedWebhook",
    "StatusUpdate",
    "TemplateNotice",
    "WebhookErrorNotice",
    "customer_key",
    "parse_webhook",
]

WEBHOOK_OBJECT = "whatsapp_business_account"


class ErrorDetail(NamedTuple):
    """One entry of an ``errors[]`` array: Meta's ``code``, ``title``, ``message`` and
    ``error_data.details`` (act on the code; titles and messages are being deprecated)."""

    code: int | None
    title: str
    message: str
    details: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a customer sent to one of the owner's business numbers.

    ``wa_id`` (phone digits) or ``user_id`` (BSUID), or both, identify the customer;
    ``timestamp`` is Unix seconds (0 if Meta's was unreadable); ``raw`` is the message
    object exactly as received (for storage); ``event`` is what the engine should act on,
    None for types that are stored but not acted on (see
    :mod:`~convoflow.channels.whatsapp.inbound_events`).
    """

    wamid: str
    phone_number_id: str
    display_phone_number: str
    wa_id: str | None
    user_id: str | None
    profile_name: str | None
    timestamp: int
    type: str
    context_wamid: str | None
    raw: dict[str, Any] = field(hash=False)
    event: Event | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """Delivery news about a message the business sent (sent, delivered, read, failed, ...).

    ``status`` is passed through as Meta spells it, so new values (``played``) reach the
    service, which keeps outbound status monotonic. ``errors`` is set for ``failed``.
    """

    wamid: str
    phone_number_id: str
    status: str
    timestamp: int
    recipient_id: str | None
    recipient_user_id: str | None
    errors: tuple[ErrorDetail, ...] = ()
    callback_data: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class WebhookErrorNotice:
    """A system-, app- or account-level error sent in ``value.errors`` (no message attached)."""

    phone_number_id: str | None
    code: int | None
    title: str
    message: str
    details: str = ""


@dataclass(frozen=True, slots=True)
class TemplateNotice:
    """A ``message_template_status_update`` (``status``: APPROVED, PAUSED, DISABLED, ...) or
    ``message_template_quality_update`` (``quality``: GREEN, YELLOW, RED) of one WABA."""

    waba_id: str
    template_id: str | None
    name: str | None
    language: str | None
    status: str | None = None
    quality: str | None = None
    reason: str | None = None


#: The webhook fields that carry template news.
TEMPLATE_FIELDS = ("message_template_status_update", "message_template_quality_update")


@dataclass(slots=True)
class ParsedWebhook:
    """Everything one webhook POST carried, in payload order, plus what had to be skipped."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    errors: list[WebhookErrorNotice] = field(default_factory=list)
    templates: list[TemplateNotice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def customer_key(message: InboundMessage) -> str:
    """The key conversation state is kept under: ``wa_id`` if present, else the BSUID.

    Together with ``phone_number_id`` it names one conversation. A customer who hides their
    number behind a username is keyed on the BSUID; Meta regenerates a BSUID when the user
    changes phone number (announced by a ``system`` message), which starts a new state.
    """
    key = message.wa_id or message.user_id
    if key is None:
        raise InvalidArgument(f"message {message.wamid} has neither wa_id nor user_id")
    return key


@dataclass(frozen=True, slots=True)
class _Contact:
    wa_id: str | None
    user_id: str | None
    name: str | None
    username: str | None


class _Contacts:
    """The ``contacts[]`` of one change, looked up by ``wa_id`` or BSUID."""

    def __init__(self, contacts: list[_Contact]) -> None:
        self._all = contacts
        self._by_wa_id = {c.wa_id: c for c in contacts if c.wa_id}
        self._by_user_id = {c.user_id: c for c in contacts if c.user_id}

    def match(self, wa_id: str | None, user_id: str | None) -> _Contact | None:
        found = self._by_wa_id.get(wa_id) if wa_id else None
        if found is None and user_id:
            found = self._by_user_id.get(user_id)
        if found is not None:
            return found
        if len(self._all) == 1:
            only = self._all[0]
            # The sole contact of a change is the sender unless its ids say otherwise.
            if (not wa_id or only.wa_id in (None, wa_id)) and (
                not user_id or only.user_id in (None, user_id)
            ):
                return only
        return None


class _Parser:
    def __init__(self) -> None:
        self.result = ParsedWebhook()

    def note(self, where: str, what: str) -> None:
        self.result.problems.append(f"{where}: {what}")

    def parse(self, payload: Any) -> ParsedWebhook:
        root = as_dict(payload)
        if root is None:
            self.note("payload", f"expected an object, got {kind_of(payload)}")
            return self.result
        webhook_object = root.get("object")
        if webhook_object is not None and webhook_object != WEBHOOK_OBJECT:
            self.note("object", f"not a WhatsApp webhook ({kind_of(webhook_object)}); ignored")
            return self.result
        entries = as_list(root.get("entry"))
        if entries is None:
            self.note("entry", f"expected an array, got {kind_of(root.get('entry'))}")
            return self.result
        for index, entry in enumerate(entries):
            self.parse_entry(entry, f"entry[{index}]")
        return self.result

    def parse_entry(self, entry: Any, where: str) -> None:
        entry_object = as_dict(entry)
        changes = as_list(entry_object.get("changes")) if entry_object is not None else None
        if changes is None:
            self.note(where, "expected an object with a changes array; skipped")
            return
        for index, change in enumerate(changes):
            change_where = f"{where}.changes[{index}]"
            change_object = as_dict(change)
            value = as_dict(change_object.get("value")) if change_object is not None else None
            if change_object is None or value is None:
                self.note(change_where, "expected an object with a value object; skipped")
                continue
            # Other fields (account updates, ...) are not chat traffic.
            kind = change_object.get("field", "messages")
            if kind == "messages":
                self.parse_value(value, f"{change_where}.value")
            elif kind in TEMPLATE_FIELDS:
                self.template_notice(entry_object, value, kind, change_where)

    def template_notice(
        self, entry: dict[str, Any] | None, value: dict[str, Any], kind: Any, where: str
    ) -> None:
        waba_id = as_id(entry.get("id")) if entry is not None else None
        if waba_id is None:
            self.note(where, "template update without the WABA id (entry.id); skipped")
            return
        template_id = value.get("message_template_id")
        notice = TemplateNotice(
            waba_id=waba_id,
            template_id=str(template_id) if isinstance(template_id, int | str) else None,
            name=as_str(value.get("message_template_name")),
            language=as_str(value.get("message_template_language")),
            reason=as_str(value.get("reason")),
        )
        if kind == "message_template_status_update":
            notice = replace(notice, status=as_token(value.get("event")))
        else:
            notice = replace(notice, quality=as_token(value.get("new_quality_score")))
        if notice.status is None and notice.quality is None:
            self.note(where, "template update without an event or quality score; skipped")
            return
        self.result.templates.append(notice)

    def parse_value(self, value: dict[str, Any], where: str) -> None:
        metadata = as_dict(value.get("metadata")) or {}
        phone_number_id = as_id(metadata.get("phone_number_id"))
        display_number = as_str(metadata.get("display_phone_number")) or ""
        messages = self.array(value, "messages", where)
        statuses = self.array(value, "statuses", where)
        if phone_number_id is None and (messages or statuses):
            self.note(where, "no metadata.phone_number_id to route on; messages/statuses skipped")
        elif phone_number_id is not None:
            contacts = self.contacts(value, where)
            for index, message in enumerate(messages):
                parsed = self.message(
                    message, f"{where}.messages[{index}]", phone_number_id, display_number, contacts
                )
                if parsed is not None:
                    self.result.messages.append(parsed)
            for index, status in enumerate(statuses):
                update = self.status(status, f"{where}.statuses[{index}]", phone_number_id)
                if update is not None:
                    self.result.statuses.append(update)
        for index, error in enumerate(self.array(value, "errors", where)):
            detail = self.error_detail(error, f"{where}.errors[{index}]")
            if detail is not None:
                self.result.errors.append(
                    WebhookErrorNotice(
                        phone_number_id, detail.code, detail.title, detail.message, detail.details
                    )
                )

    def array(self, value: dict[str, Any], key: str, where: str) -> list[Any]:
        items = value.get(key)
        if items is None:
            return []
        if not isinstance(items, list):
            self.note(f"{where}.{key}", f"expected an array, got {kind_of(items)}; skipped")
            return []
        return items

    def contacts(self, value: dict[str, Any], where: str) -> _Contacts:
        found = []
        for index, item in enumerate(self.array(value, "contacts", where)):
            contact = as_dict(item)
            if contact is None:
                self.note(f"{where}.contacts[{index}]", f"expected an object, got {kind_of(item)}")
                continue
            profile = as_dict(contact.get("profile")) or {}
            found.append(
                _Contact(
                    wa_id=as_id(contact.get("wa_id")),
                    user_id=as_id(contact.get("user_id")),
                    name=as_str(profile.get("name")),
                    username=as_str(profile.get("username")),
                )
            )
        return _Contacts(found)

    def message(
        self,
        item: Any,
        where: str,
        phone_number_id: str,
        display_number: str,
        contacts: _Contacts,
    ) -> InboundMessage | None:
        message = as_dict(item)
        if message is None:
            self.note(where, f"expected an object, got {kind_of(item)}; skipped")
            return None
        wamid = as_id(message.get("id"))
        if wamid is None:
            self.note(where, f"no usable id ({kind_of(message.get('id'))}); skipped")
            return None
        sender_wa_id = self.optional_id(message, "from", where)
        sender_user_id = self.optional_id(message, "from_user_id", where)
        contact = contacts.match(sender_wa_id, sender_user_id)
        wa_id = sender_wa_id or (contact.wa_id if contact else None)
        user_id = sender_user_id or (contact.user_id if contact else None)
        if wa_id is None and user_id is None:
            self.note(where, "no from, from_user_id or matching contact; skipped")
            return None
        message_type = as_token(message.get("type"))
        if message_type is None:
            self.note(where, f"no usable type ({kind_of(message.get('type'))}); kept as unknown")
            message_type = "unknown"
        context = as_dict(message.get("context")) or {}
        return InboundMessage(
            wamid=wamid,
            phone_number_id=phone_number_id,
            display_phone_number=display_number,
            wa_id=wa_id,
            user_id=user_id,
            profile_name=contact.name if contact else None,
            timestamp=self.timestamp(message, where),
            type=message_type,
            context_wamid=as_id(context.get("id")),
            raw=message,
            event=event_for_message(message, message_type, lambda what: self.note(where, what)),
            username=contact.username if contact else None,
        )

    def status(self, item: Any, where: str, phone_number_id: str) -> StatusUpdate | None:
        status = as_dict(item)
        if status is None:
            self.note(where, f"expected an object, got {kind_of(item)}; skipped")
            return None
        wamid = as_id(status.get("id"))
        state = as_token(status.get("status"))
        if wamid is None or state is None:
            self.note(where, "no usable id or status; skipped")
            return None
        errors = []
        for index, error in enumerate(self.array(status, "errors", where)):
            detail = self.error_detail(error, f"{where}.errors[{index}]")
            if detail is not None:
                errors.append(detail)
        return StatusUpdate(
            wamid=wamid,
            phone_number_id=phone_number_id,
            status=state,
            timestamp=self.timestamp(status, where),
            recipient_id=self.optional_id(status, "recipient_id", where),
            recipient_user_id=self.optional_id(status, "recipient_user_id", where),
            errors=tuple(errors),
            callback_data=as_str(status.get("biz_opaque_callback_data")),
            raw=status,
        )

    def error_detail(self, item: Any, where: str) -> ErrorDetail | None:
        error = as_dict(item)
        if error is None:
            self.note(where, f"expected an object, got {kind_of(item)}; skipped")
            return None
        error_data = as_dict(error.get("error_data")) or {}
        return ErrorDetail(
            code=as_int(error.get("code")),
            title=as_str(error.get("title")) or "",
            message=as_str(error.get("message")) or "",
            details=as_str(error_data.get("details")) or "",
        )

    def optional_id(self, obj: dict[str, Any], key: str, where: str) -> str | None:
        value = obj.get(key)
        found = as_id(value)
        if value is not None and found is None:
            self.note(where, f"{key} is not a usable id ({kind_of(value)}); ignored")
        return found

    def timestamp(self, obj: dict[str, Any], where: str) -> int:
        found = as_timestamp(obj.get("timestamp"))
        if found is None:
            self.note(where, f"no usable timestamp ({kind_of(obj.get('timestamp'))}); using 0")
            return 0
        return found


def parse_webhook(payload: Any) -> ParsedWebhook:
    """Parse a decoded webhook body into messages, statuses and error notices.

    Never raises; see the module docstring. Changes whose ``field`` is not ``messages``
    (template status, account updates, ...) are ignored without a problem note.
    """
    return _Parser().parse(payload)
