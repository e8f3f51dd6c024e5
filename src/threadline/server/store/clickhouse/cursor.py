"""Opaque page cursors: a keyset position (order value, key) tagged with the ordering it belongs to.

A cursor this engine did not make, or made for another ordering or direction, raises ``BadCursor``; the
values are type-checked before they reach SQL.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson

from threadline.server.store.records import BadCursor

_TAG = "ch1"
_INT64 = (-(2**63), 2**63 - 1)


def encode(ordering: str, descending: bool, value: Any, key: Any) -> str:
    raw = orjson.dumps([_TAG, ordering, bool(descending), value, key.hex() if isinstance(key, bytes) else key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    cursor: str, ordering: str, descending: bool, *, number: bool = False, key_bytes: bool = False
) -> tuple[Any, Any]:
    """(value, key) of a cursor made by ``encode`` for this ordering: an integer value (a float if ``number``),
    a text key (bytes if ``key_bytes``)."""
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadCursor(cursor) from None
    if not isinstance(doc, list) or len(doc) != 5 or doc[:3] != [_TAG, ordering, bool(descending)]:
        raise BadCursor(cursor)
    value, key = doc[3], doc[4]
    if not (_integer(value) or (number and type(value) is float and math.isfinite(value))):
        raise BadCursor(cursor)
    if type(key) is not str:
        raise BadCursor(cursor)
    if key_bytes:
        try:
            return value, bytes.fromhex(key)
        except ValueError:
            raise BadCursor(cursor) from None
    return value, key


def _integer(value: object) -> bool:
    return type(value) is int and _INT64[0] <= value <= _INT64[1]
