"""Values as ClickHouse SQL literals (every value a query carries is inlined through here)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, bytes):
        return f"unhex('{value.hex()}')"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def values(items: Iterable[object]) -> str:
    """``(a, b, ...)`` for ``IN``; ``(NULL)`` when empty (matches nothing)."""
    inner = ", ".join(literal(v) for v in items)
    return f"({inner or 'NULL'})"


def storable(*texts: str | None) -> bool:
    """Whether each text can be stored (encodes as UTF-8): one that cannot matches nothing stored."""
    try:
        for text in texts:
            if text is not None:
                text.encode()
    except UnicodeEncodeError:
        return False
    return True
