"""Template documents used across the admin API tests."""

from __future__ import annotations

import copy
from typing import Any

LOAN_SCHEMA: dict[str, Any] = {
    "amount": {"type": "number", "required": True, "prompt": "How much?", "min": 100, "max": 50000},
    "purpose": {"type": "string", "required": True, "prompt": "What for?", "min": 3},
}


def greeting(name: str = "greet", text: str = "Hello!", **fields: Any) -> dict[str, Any]:
    """A one-step native template."""
    return {
        "template_name": name,
        "template_type": "text",
        "trigger_keywords": [name],
        "menu_structure": {
            "start": "hello",
            "steps": [{"id": "hello", "type": "end", "text": text}],
        },
        **fields,
    }


def menu_template(name: str = "shop", **fields: Any) -> dict[str, Any]:
    """A native template that waits at a buttons step."""
    return {
        "template_name": name,
        "template_type": "button",
        "trigger_keywords": [name],
        "menu_structure": {
            "start": "welcome",
            "steps": [
                {
                    "id": "welcome",
                    "type": "buttons",
                    "text": "Pick one",
                    "buttons": [
                        {"id": "tea", "label": "Tea", "next": "done"},
                        {"id": "coffee", "label": "Coffee", "next": "done"},
                    ],
                },
                {"id": "done", "type": "end", "text": "Thanks!"},
            ],
        },
        **fields,
    }


def loan_template(name: str = "loan_application", **fields: Any) -> dict[str, Any]:
    """A data-collection template like the built-in loan_application."""
    return {
        "name": name,
        "description": "Collects a loan application",
        "template_type": "flow",
        "workflow_type": "tools",
        "category": "fintech",
        "trigger_keywords": ["loan", "apply"],
        "menu_structure": {
            "start": "details",
            "steps": [
                {"id": "details", "type": "collect", "next": "submitted"},
                {"id": "submitted", "type": "end", "text": "Thanks, {{amount}} received."},
            ],
        },
        "state_schema": copy.deepcopy(LOAN_SCHEMA),
        "tags": ["fintech", "loans"],
        **fields,
    }


FLOW_RUNNER_FLOW: dict[str, Any] = {
    "name": "shop_flow",
    "status": "ACTIVE",
    "triggers": ["shop", "store"],
    "steps": [
        {
            "id": "welcome",
            "type": "MessageAction",
            "message": "Welcome to the shop!",
            "buttons": [{"label": "See photos", "next": "photo"}, {"label": "Bye", "next": "bye"}],
            "position": {"x": 100, "y": 40},
        },
        {
            "id": "photo",
            "type": "ImageMessage",
            "file": "https://cdn.example.com/p.png",
            "message": "Our shop",
            "next": "promo",
            "position": {"x": 300, "y": 40},
        },
        {
            "id": "promo",
            "type": "TemplateMessage",
            "template": "spring_sale",
            "language": {"code": "en_GB"},
            "next": "bye",
        },
        {"id": "bye", "type": "MessageAction", "message": "Bye!"},
    ],
}
