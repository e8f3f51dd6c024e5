"""Session and conversation ids, user id hashing, and the clock the SDK reads (swappable in tests)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
from typing import Protocol

HASH_LENGTH = 32
"""Hex characters kept of the HMAC-SHA256 of a user id."""


class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time in nanoseconds since the epoch (span timestamps)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (turn timeouts)."""
        ...


class SystemClock:
    time_ns = staticmethod(time.time_ns)
    monotonic = staticmethod(time.monotonic)


class IdSource(Protocol):
    def hex16(self) -> str:
        """16 random hex characters."""
        ...


class RandomIds:
    @staticmethod
    def hex16() -> str:
        return os.urandom(8).hex()


class _Ids:
    """The id source and the default salt in force (``runtime.install`` sets them)."""

    source: IdSource = RandomIds()
    salt: str = ""


IDS = _Ids()


def new_session_id() -> str:
    """A fresh session id: ``sess_`` followed by 16 hex characters."""
    return "sess_" + IDS.source.hex16()


def new_conversation_id() -> str:
    """A fresh conversation id: ``conv_`` followed by 16 hex characters."""
    return "conv_" + IDS.source.hex16()


def hash_user_id(user_id: str, salt: str | None = None) -> str:
    """The user id as it leaves the process: HMAC-SHA256 keyed with the salt, 32 hex characters.

    ``salt`` defaults to the configured ``user_id_salt``. Public so that applications can look up a
    user's sessions (``GET /api/v1/sessions?user_id=...``).
    """
    return _hash(str(user_id), IDS.salt if salt is None else salt)


@functools.lru_cache(maxsize=4096)
def _hash(user_id: str, salt: str) -> str:
    return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:HASH_LENGTH]


def looks_hashed(value: str) -> bool:
    """Whether ``value`` has the shape of ``hash_user_id``'s output (32 lowercase hex characters)."""
    return len(value) == HASH_LENGTH and all(c in "0123456789abcdef" for c in value)
