"""Encryption of the access tokens stored for business phone numbers.

:mod:`~convoflow.encryption.cipher` seals and opens tokens with a key derived from a secret;
:mod:`~convoflow.encryption.key_file` finds that secret: ``CONVOFLOW_SECRET_KEY``, else a
key file generated beside the embedded SQLite database.
"""

from convoflow.encryption.cipher import TokenCipher
from convoflow.encryption.key_file import key_file_path, load_token_cipher

__all__ = ["TokenCipher", "key_file_path", "load_token_cipher"]
