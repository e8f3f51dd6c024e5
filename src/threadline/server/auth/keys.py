"""API keys: ``tl_<id>_<secret>``, shown once, stored as an HMAC keyed with the server's secret.

The public part ``tl_<id>`` names the key (it is what ``keys list`` shows and what Langfuse's SDK sends
as its public key); the whole string is the secret. Keys are 190 bits of randomness, so a slow hash would
add nothing against guessing while costing every request; an HMAC with a secret kept outside the database
means a copy of the database alone cannot be used to check guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "tl_"
_ID_CHARS = 16
_SECRET_CHARS = 32
_KEY = re.compile(r"^tl_([0-9a-f]{16})_([A-Za-z0-9]{32})$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def generate() -> tuple[str, str]:
    """A new key: (its public id ``tl_<id>``, the whole key)."""
    public = PREFIX + secrets.token_hex(_ID_CHARS // 2)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_CHARS))
    return public, f"{public}_{secret}"


def public_id(key: str) -> str | None:
    """The public id of a well-formed key, else None."""
    match = _KEY.match(key)
    return PREFIX + match.group(1) if match else None


def digest(server_secret: bytes, key: str) -> bytes:
    return hmac.new(server_secret, key.encode(), hashlib.sha256).digest()


def matches(server_secret: bytes, key: str, stored: bytes) -> bool:
    return hmac.compare_digest(digest(server_secret, key), stored)
