"""WhatsApp Cloud API limits on outbound messages: the one table convoflow uses.

Template validation (:mod:`.content_checks`, :mod:`.steps`) refuses a template whose own
texts break these limits; the message builder (:mod:`.messages`) cuts whatever a rendered
``{{variable}}`` made too long. So every message object the engine hands to the sender is
within them, and nothing else in convoflow states a limit of its own.

Lengths are in characters (code points). The numbers are Meta's, from the Cloud API pages
on text, reply-button, list, media and template messages; where two of Meta's pages
disagree, the smaller number is used (said next to it).
"""

from __future__ import annotations

# -- text messages -------------------------------------------------------------------

TEXT_BODY = 4096
"""``text.body``."""

# -- interactive messages: reply buttons and lists ------------------------------------

INTERACTIVE_BODY = 1024
"""``interactive.body.text``: 1024 on the reply-button page; the list page now says 4096."""
HEADER_TEXT = 60
"""A text ``interactive.header``."""
FOOTER_TEXT = 60
"""``interactive.footer.text``."""

REPLY_BUTTONS = 3
"""Reply buttons in one message (at least one)."""
BUTTON_TITLE = 20
"""A reply button's ``title``; titles must also differ within one message."""
BUTTON_ID = 256
"""A reply button's ``id``."""

LIST_BUTTON = 20
"""The label of the button that opens a list (``action.button``)."""
LIST_SECTIONS = 10
"""Sections in one list (at least one)."""
LIST_ROWS = 10
"""Rows in one list, counted across all its sections (at least one per section)."""
SECTION_TITLE = 24
"""A section's ``title``, required once a list has more than one section."""
ROW_ID = 200
"""A row's ``id``."""
ROW_TITLE = 24
"""A row's ``title``."""
ROW_DESCRIPTION = 72
"""A row's optional ``description``."""

OPTION_ID = min(BUTTON_ID, ROW_ID)
"""An option's id: a menu of up to three options is sent as buttons, a bigger one as rows."""

# -- media -----------------------------------------------------------------------------

CAPTION = 1024
"""The caption of an image, video or document (audio takes none)."""
DOCUMENT_FILENAME = 240
"""``document.filename``: Meta gives no number; this keeps names within file-system limits."""

# -- approved templates ---------------------------------------------------------------

TEMPLATE_NAME = 512
"""A template's ``name``: lowercase letters, digits and ``_`` only."""
TEMPLATE_NAME_PATTERN = rf"^[a-z0-9_]{{1,{TEMPLATE_NAME}}}$"
"""What a template name may be, as a regular expression."""

# -- ours ----------------------------------------------------------------------------

HANDOFF_REASON = 500
"""A handoff step's ``reason`` (not sent to WhatsApp: it is shown to the agent)."""

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` characters, ending with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
