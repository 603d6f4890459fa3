"""Customers writing to the web tests' server: signed webhooks over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.webhooks import button_reply, change, encode, signed_headers, text, webhook


def post_messages(base_url: str, *messages: dict[str, Any]) -> None:
    """One signed webhook carrying ``messages``; the server must acknowledge it."""
    raw = encode(webhook(change(list(messages))))
    response = httpx.post(f"{base_url}/webhooks/whatsapp", content=raw, headers=signed_headers(raw))
    assert response.status_code == 200, response.text


def says(base_url: str, customer: str, body: str) -> None:
    """The customer sends a text."""
    post_messages(base_url, text(customer, body))


def taps(base_url: str, customer: str, reply_id: str) -> None:
    """The customer taps a reply button."""
    post_messages(base_url, button_reply(customer, reply_id))


def wait_until(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    """Poll ``check`` until it holds (bounded)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
