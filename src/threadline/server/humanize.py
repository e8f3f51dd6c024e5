"""Short forms of API values for people, shared by the command line and the web pages. Pure.

Money is rounded: from a dollar up, to the cent ($1,234.57); below a dollar, four significant digits,
trailing zeros dropped down to the cent ($0.0242, $0.000027, $0.50). Durations take the two largest
units (850ms, 12.3s, 4m 05s, 2h 03m, 3d 04h). Missing values print as a dash.
"""

from __future__ import annotations

import math

NONE = "—"


def money(usd: float | None) -> str:
    """USD for people: to the cent from a dollar up, else four significant digits ($0.0242)."""
    if usd is None:
        return NONE
    sign, usd = ("-" if usd < 0 else ""), abs(usd)
    if usd == 0 or usd >= 1:
        return f"{sign}${usd:,.2f}"
    digits = f"{usd:.{3 - math.floor(math.log10(usd))}f}"
    whole, _, decimals = digits.partition(".")
    return f"{sign}${whole}.{decimals.rstrip('0').ljust(2, '0')}"


def count(n: int | float | None) -> str:
    return NONE if n is None else f"{n:,}"


def number(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{value:,.{digits}f}"


def rate(fraction: float | None) -> str:
    """A 0..1 fraction as a percentage."""
    return NONE if fraction is None else f"{fraction:.1%}"


def percent(value: float | None) -> str:
    """A 0..100 value as a percentage."""
    return NONE if value is None else f"{value:.1f}%"


def duration(ms: float | None) -> str:
    """Milliseconds as 850ms, 12.3s, 4m 05s, 2h 03m or 3d 04h."""
    if ms is None:
        return NONE
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for unit, size, sub, sub_size in (("d", 86_400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // sub_size:02d}{sub}"
    return f"{seconds:.0f}s"  # pragma: no cover - every value ≥ 60 s is caught above


def when(stamp: str | None) -> str:
    """An API timestamp (``2026-11-21T10:00:00.123456Z``) to the second, in UTC."""
    if not stamp:
        return NONE
    return stamp.replace("T", " ")[:19]
