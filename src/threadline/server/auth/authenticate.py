"""Credentials to principals: bearer keys, Basic pairs (Langfuse's SDK), web-session cookies.

Lookups are cached for a few seconds (a revoked key stops working within ``ttl_s``); failed attempts
are counted per client address and, past a limit, refused for a while without looking anything up.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from threadline.server.auth import keys, sessions
from threadline.server.auth.access import Principal
from threadline.server.store.base import Admin, ApiKey

CACHE_SIZE = 10_000
TOUCH_EVERY_S = 60.0
"""A key's "last used" time is written at most this often."""


@dataclass
class Authenticator:
    store: Admin
    secret: bytes
    clock: Callable[[], float] = time.time
    ttl_s: float = 5.0
    _cache: OrderedDict[str, tuple[Principal | None, float]] = field(default_factory=OrderedDict)
    _touched: dict[str, float] = field(default_factory=dict)

    def bearer(self, key: str) -> Principal | None:
        """The principal of a whole key, or None (malformed, unknown, wrong, revoked)."""
        public = keys.public_id(key)
        if public is None:
            return None
        return self._cached(f"k:{key}", lambda: self._check_key(public, key))

    def basic(self, credentials: str) -> Principal | None:
        """``base64(public id:key)``, as Langfuse's SDK sends its public and secret keys."""
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return self.bearer(password) if keys.public_id(password) == user else None

    def session(self, cookie: str) -> Principal | None:
        key_id = sessions.verify(self.secret, cookie, self.clock())
        if key_id is None:
            return None
        return self._cached(f"s:{key_id}", lambda: self._check_session(key_id))

    def signed_session(self, principal: Principal) -> tuple[str, int]:
        """A cookie value for ``principal``'s key, and its lifetime in seconds."""
        assert principal.key_id is not None
        return sessions.sign(
            self.secret, principal.key_id, int(self.clock()) + sessions.LIFETIME_S
        ), sessions.LIFETIME_S

    def forget(self) -> None:
        self._cache.clear()

    def _cached(self, name: str, load: Callable[[], Principal | None]) -> Principal | None:
        now = self.clock()
        hit = self._cache.get(name)
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit[0]
        principal = load()
        self._cache[name] = (principal, now)
        self._cache.move_to_end(name)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return principal

    def _check_key(self, public: str, key: str) -> Principal | None:
        found = self.store.key(public)
        if found is None or not keys.matches(self.secret, key, found[1]):
            return None
        return self._principal(found[0], by_cookie=False)

    def _check_session(self, key_id: str) -> Principal | None:
        found = self.store.key(key_id)
        return self._principal(found[0], by_cookie=True) if found is not None else None

    def _principal(self, key: ApiKey, *, by_cookie: bool) -> Principal | None:
        if key.revoked_ns is not None:
            return None
        project = self.store.project_by_id(key.project_id)
        if project is None:
            return None
        self._touch(key.id)
        return Principal(project.id, project.name, key.scope, key.id, by_cookie)

    def _touch(self, key_id: str) -> None:
        now = self.clock()
        if now - self._touched.get(key_id, 0.0) >= TOUCH_EVERY_S:
            self._touched[key_id] = now
            self.store.touch_key(key_id, int(now * 1e9))


@dataclass
class FailureLimiter:
    """Refuses a client address for ``window_s`` once it has failed ``limit`` times within it."""

    limit: int = 20
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def blocked_for(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: it may now)."""
        recent = self._recent(address)
        if len(recent) < self.limit:
            return 0.0
        return max(recent[0] + self.window_s - self.clock(), 0.0)

    def failed(self, address: str) -> None:
        self._recent(address).append(self.clock())
        if len(self._failures) > 10_000:  # forget the quiet ones
            self._failures = {a: f for a, f in self._failures.items() if self._recent(a)}

    def _recent(self, address: str) -> list[float]:
        cutoff = self.clock() - self.window_s
        kept = [t for t in self._failures.get(address, ()) if t > cutoff]
        self._failures[address] = kept
        return kept
