"""Where the token key comes from: ``CONVOFLOW_SECRET_KEY``, else a generated key file.

==========================  ================================================================
configuration               key
==========================  ================================================================
``CONVOFLOW_SECRET_KEY``    derived from the setting (the same value on every process)
SQLite database file        ``<database>.key`` beside it (``./convoflow.db`` →
                            ``./convoflow.key``), generated on first start with mode 0600
PostgreSQL (or in-memory    none: storing an encrypted token is refused with an error naming
SQLite) without the setting ``CONVOFLOW_SECRET_KEY``; tokens by environment variable work
==========================  ================================================================

PostgreSQL gets no key file because its servers and workers usually run on several machines:
a key generated in one working directory would leave the others unable to decrypt.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from convoflow.encryption.cipher import MIN_SECRET_LENGTH, TokenCipher

__all__ = ["KEY_FILE_SUFFIX", "key_file_path", "load_token_cipher", "read_or_create_key_file"]

logger = logging.getLogger(__name__)

KEY_FILE_SUFFIX = ".key"
SETTING = "CONVOFLOW_SECRET_KEY"
_OWNER_ONLY = 0o600


def key_file_path(database_url: str) -> Path | None:
    """The key file beside a SQLite database file; None for other databases."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # a SQLite URI (mode=memory and the like): no file
        return None
    return Path(database).with_suffix(KEY_FILE_SUFFIX)


def load_token_cipher(secret_key: str, database_url: str) -> TokenCipher:
    """The cipher for this configuration; never raises: a missing key makes a cipher that
    refuses with the reason (the API answers it, the sender records it on the row)."""
    if secret_key:
        return TokenCipher.from_secret(secret_key, origin=SETTING)
    path = key_file_path(database_url)
    if path is None:
        return TokenCipher.unavailable(
            f"{SETTING} is not set: set it (the same value for every server and worker) to "
            "store encrypted access tokens, or give the token as access_token_env"
        )
    try:
        secret = read_or_create_key_file(path)
    except (OSError, UnicodeError) as exc:  # unreadable, a directory, not text...
        logger.error("token key file %s is unusable: %s", path, exc)
        reason = getattr(exc, "strerror", None) or exc
        return TokenCipher.unavailable(
            f"the key file {path} cannot be read or created ({reason}); fix it or set {SETTING}"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        logger.error("token key file %s holds no key", path)
        return TokenCipher.unavailable(
            f"the key file {path} holds no key (at least {MIN_SECRET_LENGTH} characters); "
            f"restore it or set {SETTING}"
        )
    return TokenCipher.from_secret(secret, origin=f"the key file {path}")


def read_or_create_key_file(path: Path) -> str:
    """The secret in ``path``, generated first (mode 0600) when the file does not exist.

    The file is written under a temporary name and linked into place, so two processes
    starting at once end up with the same key and nobody reads a half-written file.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
    try:
        os.fchmod(descriptor, _OWNER_ONLY)  # whatever the umask: the owner only, no less
        os.write(descriptor, f"{secret}\n".encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read(path)  # another process won the race: use its key
    finally:
        temporary.unlink(missing_ok=True)
    logger.warning(
        "generated the access-token key file %s (mode 0600): back it up with the database; "
        "without it stored access tokens cannot be decrypted",
        path,
    )
    return secret


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "token key file %s is readable by others (mode %o): run chmod 600 on it", path, mode
        )
    return path.read_text(encoding="ascii").strip()
