"""Web sessions: a cookie naming the API key a person signed in with, signed with the server's secret.

The cookie holds ``<key id>.<expiry>.<signature>``; the key itself is never stored in the browser. Every
request checks the signature, the expiry, and that the key still exists and is not revoked, so revoking
a key signs its sessions out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

COOKIE = "threadline_session"
LIFETIME_S = 7 * 86_400


def sign(server_secret: bytes, key_id: str, expires_s: int) -> str:
    payload = f"{key_id}.{expires_s}"
    mac = hmac.new(server_secret, b"session:" + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify(server_secret: bytes, cookie: str, now_s: float) -> str | None:
    """The key id of a valid, unexpired cookie; None otherwise."""
    parts = cookie.rsplit(".", 2)
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()):
        return None
    key_id, expires, _ = parts
    if int(expires) < now_s:
        return None
    expected = sign(server_secret, key_id, int(expires))
    return key_id if hmac.compare_digest(expected.encode(), cookie.encode()) else None
