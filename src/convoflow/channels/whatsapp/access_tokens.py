"""The port the sender asks for a business number's Graph API token.

Every business number may belong to another owner with its own token, so the token is
looked up per number, per message. :class:`~convoflow.services.numbers.tokens.NumberTokens`
is the implementation (the ``phone_numbers`` table, cached briefly).
"""

from __future__ import annotations

from typing import Protocol

from convoflow.errors import ConvoflowError

__all__ = ["AccessTokenUnavailable", "AccessTokens"]


class AccessTokenUnavailable(ConvoflowError):
    """No usable token for a number; the message says why and what to set.

    A message from such a number cannot be sent until an operator acts, so it is failed
    with this message rather than retried.
    """


class AccessTokens(Protocol):
    """Resolves the ``Authorization: Bearer`` token of a business number."""

    async def token_for(self, phone_number_id: str) -> str:
        """The number's token; :class:`AccessTokenUnavailable` when it has none usable."""
        ...
