"""Graph API message objects (without ``to``), always within WhatsApp's limits.

Texts arrive here already rendered; whatever a ``{{variable}}`` made too long is cut with
an ellipsis (the numbers are in :mod:`.limits`). Menus pick their form by size: 1–3 options
→ reply buttons, 4–10 → a list, more → a numbered text the customer answers by number or
label. Reply-button titles must differ, so 1–3 options whose labels are alike once cut to a
button title go out as a list instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import limits
from .limits import truncate
from .menus import MenuOption

Body = dict[str, Any]
DEFAULT_MENU_BODY = "Please choose an option."


def text_message(text: str, *, preview_url: bool = False) -> Body | None:
    """A text message, or None when there is nothing to say."""
    if not text.strip():
        return None
    text_object: dict[str, Any] = {"body": truncate(text, limits.TEXT_BODY)}
    if preview_url:
        text_object["preview_url"] = True
    return {"type": "text", "text": text_object}


def _interactive(kind: str, body: str, action: Body, header: str, footer: str) -> Body:
    interactive: Body = {"type": kind}
    if header.strip():
        interactive["header"] = {"type": "text", "text": truncate(header, limits.HEADER_TEXT)}
    interactive["body"] = {
        "text": truncate(body.strip() or DEFAULT_MENU_BODY, limits.INTERACTIVE_BODY)
    }
    if footer.strip():
        interactive["footer"] = {"text": truncate(footer, limits.FOOTER_TEXT)}
    interactive["action"] = action
    return {"type": "interactive", "interactive": interactive}


def reply_buttons_message(
    body: str, options: Sequence[MenuOption], *, header: str = "", footer: str = ""
) -> Body:
    """Up to three reply buttons (see :func:`button_titles_differ` before choosing them)."""
    buttons = [
        {
            "type": "reply",
            "reply": {
                "id": option.id[: limits.BUTTON_ID],
                "title": truncate(option.label, limits.BUTTON_TITLE),
            },
        }
        for option in options[: limits.REPLY_BUTTONS]
    ]
    return _interactive("button", body, {"buttons": buttons}, header, footer)


def button_titles_differ(options: Sequence[MenuOption]) -> bool:
    """True when the labels, cut to a button title, still tell every option apart."""
    titles = {truncate(option.label, limits.BUTTON_TITLE).casefold() for option in options}
    return len(titles) == len(options)


def _row(option: MenuOption) -> Body:
    row: Body = {
        "id": option.id[: limits.ROW_ID],
        "title": truncate(option.label, limits.ROW_TITLE),
    }
    if option.description:
        row["description"] = truncate(option.description, limits.ROW_DESCRIPTION)
    return row


def list_message(
    body: str,
    button: str,
    sections: Sequence[tuple[str, Sequence[MenuOption]]],
    *,
    header: str = "",
    footer: str = "",
) -> Body:
    """A list message; a section without a title gets the button text as its title."""
    button_text = truncate(button.strip() or "Options", limits.LIST_BUTTON)
    action = {
        "button": button_text,
        "sections": [
            {
                "title": truncate(title.strip() or button_text, limits.SECTION_TITLE),
                "rows": [_row(option) for option in rows],
            }
            for title, rows in sections
        ],
    }
    return _interactive("list", body, action, header, footer)


def numbered_text_message(body: str, options: Sequence[MenuOption]) -> Body:
    """Options as a numbered text, for menus too big for buttons and lists."""
    lines = [f"{number}. {option.label}" for number, option in enumerate(options, start=1)]
    text = "\n".join([body.strip() or DEFAULT_MENU_BODY, "", *lines])
    return {"type": "text", "text": {"body": truncate(text, limits.TEXT_BODY)}}


def menu_message(
    body: str,
    options: Sequence[MenuOption],
    *,
    button: str = "Options",
    header: str = "",
    footer: str = "",
) -> Body:
    """Options in the best form their number (and their labels) allow."""
    if len(options) <= limits.REPLY_BUTTONS and button_titles_differ(options):
        return reply_buttons_message(body, options, header=header, footer=footer)
    if len(options) <= limits.LIST_ROWS:
        return list_message(body, button, [("", options)], header=header, footer=footer)
    return numbered_text_message(body, options)


def sectioned_menu_message(
    body: str,
    button: str,
    sections: Sequence[tuple[str, Sequence[MenuOption]]],
    *,
    header: str = "",
    footer: str = "",
) -> Body:
    """A list step's message: a list when it fits, else a numbered text."""
    rows = [option for _, options in sections for option in options]
    if len(rows) <= limits.LIST_ROWS and len(sections) <= limits.LIST_SECTIONS:
        return list_message(body, button, sections, header=header, footer=footer)
    return numbered_text_message(body, rows)


def media_message(
    kind: str,
    *,
    link: str | None = None,
    media_id: str | None = None,
    caption: str = "",
    filename: str = "",
) -> Body:
    """An image, video, audio or document by link or uploaded media id."""
    media: Body = {"id": media_id} if media_id else {"link": link or ""}
    if caption.strip() and kind != "audio":
        media["caption"] = truncate(caption, limits.CAPTION)
    if filename.strip() and kind == "document":
        media["filename"] = truncate(filename, limits.DOCUMENT_FILENAME)
    return {"type": kind, kind: media}


def template_message(name: str, language: str, components: list[Any]) -> Body:
    """An approved WhatsApp template with its (already rendered) components."""
    template: Body = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}
