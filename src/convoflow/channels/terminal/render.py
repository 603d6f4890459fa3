"""How the terminal chat shows a WhatsApp message: text, numbered buttons and rows, media."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel
from rich.text import Text

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


def message_lines(body: dict[str, Any]) -> list[str]:
    """One outbound message body as plain lines; options are numbered from 1."""
    kind = body.get("type")
    if kind == "text":
        return str(body.get("text", {}).get("body", "")).splitlines() or [""]
    if kind == "interactive":
        return _interactive_lines(body.get("interactive", {}))
    if kind in MEDIA_KINDS:
        media = body.get(str(kind), {})
        name = media.get("filename") or media.get("link") or media.get("id") or ""
        line = f"[{kind}] {name}"
        return [f"{line}  {media['caption']}" if media.get("caption") else line]
    if kind == "template":
        return [f"[template] {body.get('template', {}).get('name', '')}"]
    return [f"[{kind}]"]


def _interactive_lines(interactive: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    header = interactive.get("header") or {}
    if header.get("text"):
        lines.append(str(header["text"]))
    lines.extend(str(interactive.get("body", {}).get("text", "")).splitlines())
    action = interactive.get("action", {})
    number = 0
    if interactive.get("type") == "button":
        for button in action.get("buttons", []):
            number += 1
            lines.append(f"  {number}. {button.get('reply', {}).get('title', '')}")
    elif interactive.get("type") == "list":
        lines.append(f"  [{action.get('button', 'Options')}]")
        for section in action.get("sections", []):
            if section.get("title"):
                lines.append(f"  {section['title']}")
            for row in section.get("rows", []):
                number += 1
                description = f" - {row['description']}" if row.get("description") else ""
                lines.append(f"  {number}. {row.get('title', '')}{description}")
    footer = interactive.get("footer") or {}
    if footer.get("text"):
        lines.append(str(footer["text"]))
    return lines


def render_message(body: dict[str, Any]) -> Panel:
    """A chat bubble for an interactive terminal; numbered options in green."""
    text = Text()
    for index, line in enumerate(message_lines(body)):
        if index:
            text.append("\n")
        is_option = line.lstrip()[:1].isdigit() and ". " in line
        text.append(line, style="green" if is_option else "")
    return Panel(text, title="bot", title_align="left", expand=False, border_style="blue")
