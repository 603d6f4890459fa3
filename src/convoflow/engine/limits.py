"""WhatsApp Cloud API size limits, shared by template validation and message building.

Validation refuses templates whose static texts break these limits; the message builder
truncates defensively when a rendered ``{{variable}}`` makes a text too long.
"""

from __future__ import annotations

TEXT_BODY = 4096
INTERACTIVE_BODY = 1024
HEADER_TEXT = 60
FOOTER_TEXT = 60
CAPTION = 1024
REPLY_BUTTONS = 3
BUTTON_TITLE = 20
BUTTON_ID = 256
LIST_ROWS = 10
LIST_SECTIONS = 10
LIST_BUTTON = 20
ROW_TITLE = 24
ROW_ID = 200
ROW_DESCRIPTION = 72
SECTION_TITLE = 24
DOCUMENT_FILENAME = 240
TEMPLATE_NAME = 512

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` characters, ending with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
