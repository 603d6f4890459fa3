"""WhatsApp's size limits for outbound messages, checked before the Graph API call.

:func:`check_limits` reads an already built message object (the ``body`` of an
:class:`~convoflow.engine.outcome.OutboundMessage`) and lists every violation, so a bad
message is refused with a clear reason instead of a Graph API 131009/100 error. Lengths are
counted in characters (code points).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["check_limits"]

TEXT_BODY_MAX = 4096
CAPTION_MAX = 1024
INTERACTIVE_BODY_MAX = 1024  # 4096 on Meta's newest list page, 1024 elsewhere: the safe cap
HEADER_TEXT_MAX = 60
FOOTER_TEXT_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10  # in total, across all sections
SECTION_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
TEMPLATE_NAME_MAX = 512

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
CAPTIONED_MEDIA = frozenset({"image", "video", "document"})
SENDABLE_TYPES = MEDIA_TYPES | {
    "text",
    "interactive",
    "template",
    "location",
    "contacts",
    "reaction",
}
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]+")


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def require_object(self, parent: Any, key: str, where: str) -> dict[str, Any] | None:
        value = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(value, dict):
            self.add(where, "required object is missing")
            return None
        return value

    def check_text(
        self, value: Any, where: str, maximum: int, *, required: bool = True
    ) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            self.add(where, "required text is missing or empty")
            return None
        if len(value) > maximum:
            preview = value[:24] + "..."
            self.add(where, f"{len(value)} characters, at most {maximum} allowed ({preview!r})")
        return value


def check_limits(body: Any) -> list[str]:
    """Every way ``body`` breaks WhatsApp's limits, as ``"path: problem"`` lines; [] if none.

    Never raises, whatever ``body`` holds.
    """
    checker = _Checker()
    if not isinstance(body, dict):
        checker.add("body", "expected a message object")
        return checker.problems
    message_type = body.get("type")
    if not isinstance(message_type, str) or message_type not in SENDABLE_TYPES:
        checker.add("type", f"unknown message type {message_type!r:.40}")
    elif message_type == "text":
        text = checker.require_object(body, "text", "text")
        if text is not None:
            checker.check_text(text.get("body"), "text.body", TEXT_BODY_MAX)
    elif message_type in MEDIA_TYPES:
        _check_media(checker, body.get(message_type), message_type, message_type)
    elif message_type == "interactive":
        _check_interactive(checker, body)
    elif message_type == "template":
        _check_template(checker, body)
    return checker.problems


def _check_media(checker: _Checker, media: Any, kind: str, where: str) -> None:
    if not isinstance(media, dict):
        checker.add(where, "required object is missing")
        return
    has_id, has_link = bool(media.get("id")), bool(media.get("link"))
    if has_id == has_link:
        checker.add(where, "give exactly one of id and link")
    link = media.get("link")
    if has_link and not (isinstance(link, str) and link.startswith(("https://", "http://"))):
        checker.add(f"{where}.link", "must be an http(s) URL")
    if "caption" in media:
        if kind in CAPTIONED_MEDIA:
            checker.check_text(media["caption"], f"{where}.caption", CAPTION_MAX)
        else:
            checker.add(f"{where}.caption", f"{kind} messages take no caption")
    if "filename" in media and kind != "document":
        checker.add(f"{where}.filename", "only documents take a filename")


def _check_interactive(checker: _Checker, body: dict[str, Any]) -> None:
    interactive = checker.require_object(body, "interactive", "interactive")
    if interactive is None:
        return
    kind = interactive.get("type")
    body_object = checker.require_object(interactive, "body", "interactive.body")
    if body_object is not None:
        checker.check_text(body_object.get("text"), "interactive.body.text", INTERACTIVE_BODY_MAX)
    footer = interactive.get("footer")
    if footer is not None:
        footer_text = footer.get("text") if isinstance(footer, dict) else None
        checker.check_text(footer_text, "interactive.footer.text", FOOTER_TEXT_MAX)
    _check_header(checker, interactive.get("header"), text_only=kind == "list")
    action = checker.require_object(interactive, "action", "interactive.action")
    if action is None:
        return
    if kind == "button":
        _check_buttons(checker, action.get("buttons"))
    elif kind == "list":
        checker.check_text(action.get("button"), "interactive.action.button", LIST_BUTTON_MAX)
        _check_sections(checker, action.get("sections"))


def _check_header(checker: _Checker, header: Any, *, text_only: bool) -> None:
    where = "interactive.header"
    if header is None:
        return
    if not isinstance(header, dict):
        checker.add(where, "expected an object")
        return
    kind = header.get("type")
    if kind == "text":
        checker.check_text(header.get("text"), f"{where}.text", HEADER_TEXT_MAX)
    elif kind in ("image", "video", "document") and not text_only:
        _check_media(checker, header.get(kind), str(kind), f"{where}.{kind}")
    else:
        allowed = "text" if text_only else "text, image, video or document"
        checker.add(f"{where}.type", f"must be {allowed}")


def _check_buttons(checker: _Checker, buttons: Any) -> None:
    where = "interactive.action.buttons"
    if not isinstance(buttons, list) or not buttons:
        checker.add(where, f"1 to {BUTTONS_MAX} buttons required")
        return
    if len(buttons) > BUTTONS_MAX:
        checker.add(where, f"{len(buttons)} buttons, at most {BUTTONS_MAX} allowed")
    ids: set[str] = set()
    titles: set[str] = set()
    for index, button in enumerate(buttons):
        here = f"{where}[{index}]"
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(button, dict) or button.get("type") != "reply":
            checker.add(here, 'expected {"type": "reply", "reply": {...}}')
        if not isinstance(reply, dict):
            continue
        button_id = checker.check_text(reply.get("id"), f"{here}.reply.id", BUTTON_ID_MAX)
        title = checker.check_text(reply.get("title"), f"{here}.reply.title", BUTTON_TITLE_MAX)
        _check_unique(checker, button_id, ids, f"{here}.reply.id")
        _check_unique(checker, title, titles, f"{here}.reply.title")


def _check_sections(checker: _Checker, sections: Any) -> None:
    where = "interactive.action.sections"
    if not isinstance(sections, list) or not sections:
        checker.add(where, f"1 to {LIST_SECTIONS_MAX} sections required")
        return
    if len(sections) > LIST_SECTIONS_MAX:
        checker.add(where, f"{len(sections)} sections, at most {LIST_SECTIONS_MAX} allowed")
    row_count = 0
    row_ids: set[str] = set()
    for index, section in enumerate(sections):
        here = f"{where}[{index}]"
        if not isinstance(section, dict):
            checker.add(here, "expected an object")
            continue
        # Meta requires section titles once there is more than one section.
        title_required = len(sections) > 1
        checker.check_text(
            section.get("title"), f"{here}.title", SECTION_TITLE_MAX, required=title_required
        )
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            checker.add(f"{here}.rows", "at least 1 row required")
            continue
        row_count += len(rows)
        for row_index, row in enumerate(rows):
            _check_row(checker, row, f"{here}.rows[{row_index}]", row_ids)
    if row_count > LIST_ROWS_MAX:
        checker.add(where, f"{row_count} rows in total, at most {LIST_ROWS_MAX} allowed")


def _check_row(checker: _Checker, row: Any, where: str, row_ids: set[str]) -> None:
    if not isinstance(row, dict):
        checker.add(where, "expected an object")
        return
    row_id = checker.check_text(row.get("id"), f"{where}.id", ROW_ID_MAX)
    _check_unique(checker, row_id, row_ids, f"{where}.id")
    checker.check_text(row.get("title"), f"{where}.title", ROW_TITLE_MAX)
    checker.check_text(
        row.get("description"), f"{where}.description", ROW_DESCRIPTION_MAX, required=False
    )


def _check_unique(checker: _Checker, value: str | None, seen: set[str], where: str) -> None:
    if value is None:
        return
    if value in seen:
        checker.add(where, f"duplicate {value!r:.40}")
    seen.add(value)


def _check_template(checker: _Checker, body: dict[str, Any]) -> None:
    template = checker.require_object(body, "template", "template")
    if template is None:
        return
    name = checker.check_text(template.get("name"), "template.name", TEMPLATE_NAME_MAX)
    if name is not None and not _TEMPLATE_NAME.fullmatch(name):
        checker.add("template.name", "only lowercase letters, digits and _ are allowed")
    language = checker.require_object(template, "language", "template.language")
    if language is not None:
        checker.check_text(language.get("code"), "template.language.code", 16)
    components = template.get("components", [])
    if not isinstance(components, list):
        checker.add("template.components", "expected an array")
        return
    for index, component in enumerate(components):
        here = f"template.components[{index}]"
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            checker.add(here, "expected an object with a type")
            continue
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            checker.add(f"{here}.parameters", "expected an array")
            continue
        for param_index, parameter in enumerate(parameters):
            _check_parameter(checker, parameter, f"{here}.parameters[{param_index}]")


def _check_parameter(checker: _Checker, parameter: Any, where: str) -> None:
    if not isinstance(parameter, dict) or not isinstance(parameter.get("type"), str):
        checker.add(where, "expected an object with a type")
    elif parameter["type"] == "text":
        checker.check_text(parameter.get("text"), f"{where}.text", TEXT_BODY_MAX)
    elif parameter["type"] == "payload":
        checker.check_text(parameter.get("payload"), f"{where}.payload", TEXT_BODY_MAX)
