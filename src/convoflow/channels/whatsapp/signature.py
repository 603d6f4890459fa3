"""Webhook authenticity: the ``X-Hub-Signature-256`` check and the GET verification handshake.

The signature is an HMAC-SHA256 of the raw request bytes keyed with the app secret; it must
be computed over the body exactly as received, before any JSON parsing, because re-serialised
JSON (other whitespace, key order or escaping) gives another digest.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify_handshake", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
"""The request header Meta puts the signature in."""

_PREFIX = "sha256="


def sign(raw_body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value Meta would send for ``raw_body``."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Check an ``X-Hub-Signature-256`` header against the raw body, in constant time.

    False for a missing header, a header without the ``sha256=`` prefix, a wrong digest, and
    an empty ``app_secret`` (a missing secret must not make every forged body valid).
    """
    if not header or not app_secret or not header.startswith(_PREFIX):
        return False
    expected = sign(raw_body, app_secret).encode("ascii")
    # compare_digest refuses non-ASCII str, so compare bytes: a forged header with odd
    # characters must yield False, not an exception.
    received = header.strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected, received)


def verify_handshake(
    mode: str | None,
    token: str | None,
    challenge: str | None,
    expected_token: str,
) -> str | None:
    """Answer Meta's GET verification (``hub.mode``, ``hub.verify_token``, ``hub.challenge``).

    Returns the challenge to echo as a ``text/plain`` 200 body when the mode is
    ``subscribe`` and the token matches (constant time); None means answer 403.
    An empty ``expected_token`` never verifies.
    """
    if mode != "subscribe" or token is None or challenge is None or not expected_token:
        return None
    matches = hmac.compare_digest(
        expected_token.encode("utf-8"), token.encode("utf-8", errors="replace")
    )
    return challenge if matches else None
