"""Builders for outbound Graph API message objects, validated against WhatsApp's limits.

Each builder returns the message object without ``to`` and ``messaging_product`` (the shape
of :attr:`~convoflow.engine.outcome.OutboundMessage.body`, and of
:meth:`~convoflow.channels.whatsapp.graph.GraphClient.send_message`'s ``body``), and raises
:class:`ValueError` naming every broken limit. :func:`check_limits` checks a body built
elsewhere without raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from convoflow.channels.whatsapp.limits import check_limits

__all__ = [
    "ListRow",
    "ListSection",
    "ReplyButton",
    "audio",
    "check_limits",
    "document",
    "image",
    "list_message",
    "reply_buttons",
    "template",
    "text",
    "video",
]

Parameters = Sequence[str] | Mapping[str, str]
"""Template parameters: positional (``{{1}}``, in order) or named (``{{first_name}}``)."""


@dataclass(frozen=True, slots=True)
class ReplyButton:
    """One reply button: ``id`` comes back in the ``button_reply``, ``title`` is the label."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ListRow:
    """One selectable row of a list message."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ListSection:
    """A titled group of rows in a list message."""

    title: str
    rows: Sequence[ListRow]


def _checked(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    problems = check_limits(body)
    if problems:
        raise ValueError(f"invalid {kind} message: " + "; ".join(problems))
    return body


def text(body: str, *, preview_url: bool = False) -> dict[str, Any]:
    """A text message (at most 4096 characters); ``preview_url`` previews the first URL."""
    content: dict[str, Any] = {"body": body}
    if preview_url:
        content["preview_url"] = True
    return _checked("text", {"type": "text", "text": content})


def _interactive(
    kind: str,
    body: str,
    action: dict[str, Any],
    header: str | Mapping[str, Any] | None,
    footer: str | None,
) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if header is not None:
        interactive["header"] = (
            {"type": "text", "text": header} if isinstance(header, str) else dict(header)
        )
    interactive["body"] = {"text": body}
    if footer is not None:
        interactive["footer"] = {"text": footer}
    interactive["action"] = action
    return {"type": "interactive", "interactive": interactive}


def reply_buttons(
    body: str,
    buttons: Sequence[ReplyButton | tuple[str, str]],
    *,
    header: str | Mapping[str, Any] | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """An interactive message with 1-3 reply buttons (titles at most 20 characters, unique).

    ``buttons`` holds :class:`ReplyButton` or ``(id, title)`` pairs; ``header`` is a text or
    a header object (``{"type": "image", "image": {"link": ...}}``).
    """
    replies = [
        {"type": "reply", "reply": {"id": button_id, "title": title}}
        for button_id, title in (
            (b.id, b.title) if isinstance(b, ReplyButton) else b for b in buttons
        )
    ]
    message = _interactive("button", body, {"buttons": replies}, header, footer)
    return _checked("reply buttons", message)


def list_message(
    body: str,
    button: str,
    sections: Sequence[ListSection],
    *,
    header: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """An interactive list: ``button`` opens it; at most 10 rows in total across sections.

    A lone section may have an empty title (it is left out); with several, each needs one.
    """
    action = {
        "button": button,
        "sections": [_section(section) for section in sections],
    }
    return _checked("list", _interactive("list", body, action, header, footer))


def _section(section: ListSection) -> dict[str, Any]:
    built: dict[str, Any] = {"title": section.title} if section.title else {}
    built["rows"] = [_row(row) for row in section.rows]
    return built


def _row(row: ListRow) -> dict[str, str]:
    built = {"id": row.id, "title": row.title}
    if row.description:
        built["description"] = row.description
    return built


def _media(
    kind: str,
    media_id: str | None,
    link: str | None,
    **extra: Any,
) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if media_id is not None:
        content["id"] = media_id
    if link is not None:
        content["link"] = link
    content.update({key: value for key, value in extra.items() if value is not None})
    return _checked(kind, {"type": kind, kind: content})


def image(
    *, media_id: str | None = None, link: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    """An image by uploaded media id or public link (exactly one), caption ≤ 1024."""
    return _media("image", media_id, link, caption=caption)


def video(
    *, media_id: str | None = None, link: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    """A video by uploaded media id or public link (exactly one), caption ≤ 1024."""
    return _media("video", media_id, link, caption=caption)


def audio(
    *, media_id: str | None = None, link: str | None = None, voice: bool = False
) -> dict[str, Any]:
    """An audio file by media id or link; ``voice`` sends it as a voice note (OGG/OPUS)."""
    return _media("audio", media_id, link, voice=True if voice else None)


def document(
    *,
    media_id: str | None = None,
    link: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """A document by media id or link; ``filename`` sets the name and icon shown."""
    return _media("document", media_id, link, caption=caption, filename=filename)


def template(
    name: str,
    language_code: str,
    *,
    body_params: Parameters = (),
    header_params: Parameters = (),
    quick_reply_payloads: Sequence[str] = (),
    components: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An approved message template, the only kind allowed outside the 24-hour window.

    ``body_params`` and ``header_params`` fill text variables, positional (a sequence) or
    named (a mapping); ``quick_reply_payloads[i]`` is the payload of quick-reply button
    ``i``, echoed back as ``button.payload``; ``components`` are appended verbatim for
    anything else (media headers, currency, URL buttons).
    """
    built: list[dict[str, Any]] = []
    if header_params:
        built.append({"type": "header", "parameters": _text_parameters(header_params)})
    if body_params:
        built.append({"type": "body", "parameters": _text_parameters(body_params)})
    for index, payload in enumerate(quick_reply_payloads):
        built.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    built.extend(dict(component) for component in components)
    content: dict[str, Any] = {"name": name, "language": {"code": language_code}}
    if built:
        content["components"] = built
    return _checked("template", {"type": "template", "template": content})


def _text_parameters(parameters: Parameters) -> list[dict[str, str]]:
    if isinstance(parameters, Mapping):
        return [
            {"type": "text", "parameter_name": key, "text": value}
            for key, value in parameters.items()
        ]
    if isinstance(parameters, str):
        raise ValueError("template parameters must be a sequence or mapping, not one string")
    return [{"type": "text", "text": value} for value in parameters]
