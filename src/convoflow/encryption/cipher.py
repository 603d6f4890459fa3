"""Sealing access tokens with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The Fernet key is derived from a secret of any length with scrypt and a fixed salt, so the
same secret always opens the same tokens: ``CONVOFLOW_SECRET_KEY`` and the generated key
file hold such a secret (not a Fernet key). A fixed salt means the secret itself must be
hard to guess: use a long random one (``openssl rand -base64 32``).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from convoflow.errors import SecretKeyError

__all__ = ["MIN_SECRET_LENGTH", "TokenCipher", "derive_fernet_key"]

#: A shorter secret is refused at start-up: with a fixed salt it could be guessed.
MIN_SECRET_LENGTH = 16
_SALT = b"convoflow/phone-number-access-tokens/v1"
# scrypt cost: about 32 MB and a few tens of milliseconds, paid once per process and secret.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1


@lru_cache(maxsize=8)
def derive_fernet_key(secret: str) -> bytes:
    """The urlsafe-base64 Fernet key for ``secret`` (scrypt; cached per process)."""
    kdf = Scrypt(salt=_SALT, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return base64.urlsafe_b64encode(kdf.derive(secret.encode("utf-8")))


class TokenCipher:
    """Seals and opens access tokens, or says why it cannot (no key configured).

    ``origin`` names where the key came from (the setting or the key file), so an error
    tells the operator what to check.
    """

    def __init__(self, fernet: Fernet | None, *, origin: str, problem: str = "") -> None:
        self._fernet = fernet
        self.origin = origin
        self.problem = problem

    @classmethod
    def from_secret(cls, secret: str, *, origin: str) -> TokenCipher:
        """A cipher keyed by ``secret`` (see the module docstring for the derivation)."""
        return cls(Fernet(derive_fernet_key(secret)), origin=origin)

    @classmethod
    def unavailable(cls, problem: str) -> TokenCipher:
        """A cipher that refuses every call with ``problem`` (what to set)."""
        return cls(None, origin="", problem=problem)

    @property
    def available(self) -> bool:
        """True when tokens can be sealed and opened."""
        return self._fernet is not None

    def encrypt(self, token: str) -> str:
        """The sealed form of ``token`` (ASCII, safe to store as text)."""
        return self._require().encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, sealed: str) -> str:
        """The token sealed in ``sealed``; :class:`~convoflow.errors.SecretKeyError` when the
        key differs."""
        fernet = self._require()
        try:
            return fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretKeyError(
                f"the token was sealed with another key than the one from {self.origin}; "
                "restore the key it was stored with, or store the token again"
            ) from exc

    def _require(self) -> Fernet:
        if self._fernet is None:
            raise SecretKeyError(self.problem)
        return self._fernet
