"""Which engine :data:`~convoflow.engine.events.Event` an inbound WhatsApp message maps to.

=====================================  =============================================
message                                event
=====================================  =============================================
``text``                               ``TextReceived(text.body)``
``interactive`` / ``button_reply``     ``ChoiceReceived(id, title)``
``interactive`` / ``list_reply``       ``ChoiceReceived(id, title)``
``button`` (template quick reply)      ``ChoiceReceived(payload, text)``
``image`` ``video`` ``audio``          ``MediaReceived(type, id, caption, mime_type)``
``document`` ``sticker``
``location``                           ``LocationReceived(latitude, longitude, ...)``
``interactive`` / ``nfm_reply``        ``TextReceived(response_json)``
everything else                        None: stored, not acted on
=====================================  =============================================

A WhatsApp Flow completion (``nfm_reply``) carries a form the customer filled in, as the
JSON string ``response_json``. It maps to :class:`TextReceived` with that string so an
``ask`` or ``collect`` step keeps the submitted data verbatim (a :class:`ChoiceReceived`
would keep only the word "Sent"); it never matches a trigger keyword by accident.

"Everything else": contacts, reaction, order, system, unsupported, request_welcome, edit,
revoke, ``call_permission_reply`` and types Meta adds later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convoflow.channels.whatsapp._fields import as_coordinate, as_dict, as_id, as_str, kind_of
from convoflow.engine.events import (
    ChoiceReceived,
    Event,
    LocationReceived,
    MediaReceived,
    TextReceived,
)

__all__ = ["MEDIA_TYPES", "event_for_message"]

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
"""Inbound message types that map to :class:`MediaReceived`."""

Note = Callable[[str], None]


def event_for_message(message: dict[str, Any], message_type: str, note: Note) -> Event | None:
    """The event ``message`` (one ``messages[]`` object) maps to, or None.

    A message whose type should map to an event but whose content has the wrong shape
    gives None and a ``note`` saying what was wrong; it never raises.
    """
    if message_type == "text":
        return _text(message, note)
    if message_type == "interactive":
        return _interactive(message, note)
    if message_type == "button":
        return _template_button(message, note)
    if message_type in MEDIA_TYPES:
        return _media(message, message_type, note)
    if message_type == "location":
        return _location(message, note)
    return None


def _text(message: dict[str, Any], note: Note) -> Event | None:
    text = as_dict(message.get("text"))
    body = as_str(text.get("body")) if text is not None else None
    if body is None:
        note(f"text message without text.body (got {kind_of(message.get('text'))})")
        return None
    return TextReceived(body)


def _interactive(message: dict[str, Any], note: Note) -> Event | None:
    raw_interactive = message.get("interactive")
    interactive = as_dict(raw_interactive)
    if interactive is None:
        note(f"interactive message with no interactive object ({kind_of(raw_interactive)})")
        return None
    reply_type = interactive.get("type")
    if reply_type in ("button_reply", "list_reply"):
        reply = as_dict(interactive.get(reply_type))
        choice_id = as_id(reply.get("id")) if reply is not None else None
        if reply is None or choice_id is None:
            note(f"interactive {reply_type} without a usable {reply_type}.id")
            return None
        return ChoiceReceived(choice_id, as_str(reply.get("title")) or "")
    if reply_type == "nfm_reply":
        reply = as_dict(interactive.get("nfm_reply"))
        response_json = as_str(reply.get("response_json")) if reply is not None else None
        if response_json is None:
            note("interactive nfm_reply without a response_json string")
            return None
        return TextReceived(response_json)
    return None


def _template_button(message: dict[str, Any], note: Note) -> Event | None:
    button = as_dict(message.get("button"))
    if button is None:
        note(f"button message without a button object ({kind_of(message.get('button'))})")
        return None
    text = as_str(button.get("text")) or ""
    # Meta echoes the label as payload when none was set at send time.
    payload = as_id(button.get("payload")) or as_id(text)
    if payload is None:
        note("button message without payload or text")
        return None
    return ChoiceReceived(payload, text)


def _media(message: dict[str, Any], kind: str, note: Note) -> Event | None:
    media = as_dict(message.get(kind))
    if media is None:
        note(f"{kind} message with no {kind} object ({kind_of(message.get(kind))})")
        return None
    return MediaReceived(
        kind=kind,
        media_id=as_id(media.get("id")) or "",
        caption=as_str(media.get("caption")) or "",
        mime_type=as_str(media.get("mime_type")) or "",
    )


def _location(message: dict[str, Any], note: Note) -> Event | None:
    location = as_dict(message.get("location"))
    if location is None:
        note(f"location message without a location object ({kind_of(message.get('location'))})")
        return None
    latitude = as_coordinate(location.get("latitude"))
    longitude = as_coordinate(location.get("longitude"))
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        note("location message without valid latitude/longitude")
        return None
    return LocationReceived(
        latitude=latitude,
        longitude=longitude,
        name=as_str(location.get("name")) or "",
        address=as_str(location.get("address")) or "",
    )
