"""What a tap on a button or list row sends back, as WhatsApp would send it."""

from __future__ import annotations

from typing import Any

from convoflow.errors import InvalidData


def _options(interactive: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(reply type, reply object) of every option of an interactive message."""
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [
            ("button_reply", {"id": reply.get("id"), "title": reply.get("title")})
            for button in action.get("buttons") or []
            if isinstance(reply := button.get("reply"), dict)
        ]
    if interactive.get("type") == "list":
        options = []
        for section in action.get("sections") or []:
            for row in section.get("rows") or []:
                reply = {"id": row.get("id"), "title": row.get("title")}
                if row.get("description"):
                    reply["description"] = row["description"]
                options.append(("list_reply", reply))
        return options
    return []


def reply_payload(last_menu: dict[str, Any] | None, reply_id: str) -> dict[str, Any]:
    """The inbound message object of tapping ``reply_id`` in ``last_menu`` (the body of the
    bot's latest interactive message); InvalidData when it offers no such option."""
    interactive = (last_menu or {}).get("interactive") or {}
    for reply_type, reply in _options(interactive):
        if reply["id"] == reply_id:
            return {"type": "interactive", "interactive": {"type": reply_type, reply_type: reply}}
    offered = [reply["id"] for _, reply in _options(interactive)]
    if not offered:
        raise InvalidData("reply_id", "the bot's last message offers no buttons or list rows")
    raise InvalidData("reply_id", f"not an option of the bot's last message: {offered}")
