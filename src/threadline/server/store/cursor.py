"""Keyset positions as opaque page cursors, for any engine: ``encode`` a position, ``decode`` it back with
the type each of its values must have (``BadCursor`` otherwise, so that no forged value reaches SQL)."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from threadline.server.store.records import BadCursor

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Slot = Callable[[object], bool]
"""Whether a value can stand at one place of a position."""


def integer(value: object) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def number(value: object) -> bool:
    return integer(value) or (type(value) is float and math.isfinite(value))


def text(value: object) -> bool:
    return type(value) is str


def hex_bytes(value: object) -> bool:
    """Bytes are carried as hex text."""
    if type(value) is not str:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def encode(position: Sequence[Any]) -> str:
    raw = orjson.dumps([p.hex() if isinstance(p, bytes) else p for p in position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, slots: Sequence[Slot]) -> tuple[Any, ...]:
    """The position ``encode`` made, each value accepted by its slot."""
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        doc = None
    if (
        not isinstance(doc, list)
        or len(doc) != len(slots)
        or not all(fits(value) for fits, value in zip(slots, doc, strict=True))
    ):
        raise BadCursor(cursor)
    return tuple(doc)
