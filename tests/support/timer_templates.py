"""A template whose question times out: a reminder after 30 minutes, then it asks again."""

from __future__ import annotations

from typing import Any

CALLBACK_WITH_REMINDER: dict[str, Any] = {
    "template_name": "callback",
    "trigger_keywords": ["callback"],
    "menu_structure": {
        "start": "name",
        "steps": [
            {
                "id": "name",
                "type": "ask",
                "field": "name",
                "prompt": "Who should we call back?",
                "timeout": "30m",
                "on_timeout": "reminder",
                "next": "thanks",
            },
            {"id": "reminder", "type": "message", "text": "Still there?", "next": "name"},
            {"id": "thanks", "type": "end", "text": "Thanks {{name}}, we'll call you."},
        ],
    },
}
