"""Jinja2 for the pages: autoescaping everywhere, value filters, and HTML responses with a strict policy.

Every value that came from a span is attacker-controlled, so templates are autoescaped and pages allow
no inline script or style (Content-Security-Policy), no framing, and no outside origin.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse

from threadline.server import humanize
from threadline.server.auth.access import Access, principal_of

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("threadline.server.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def exact_time(iso: str | None) -> str:
    """An API timestamp, to the millisecond, in UTC (the hover text of relative times)."""
    if not iso:
        return humanize.NONE
    return iso.replace("T", " ")[:23] + " UTC"


def ago(iso: str | None, now_s: float | None = None) -> str:
    """How long ago (or ahead) an API timestamp is: "just now", "5 minutes ago", "3 days ago"."""
    if not iso:
        return humanize.NONE
    then = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    delta = (time.time() if now_s is None else now_s) - then
    if abs(delta) < 5:
        return "just now"
    unit, amount = "second", round(abs(delta))
    for name, size in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400), ("hour", 3600), ("minute", 60)):
        if abs(delta) >= size:
            unit, amount = name, round(abs(delta) / size)
            break
    words = f"{amount} {unit}{'s' if amount != 1 else ''}"
    return f"{words} ago" if delta > 0 else f"in {words}"


def exact_money(usd: float | None) -> str:
    """USD to eight significant digits (the hover text of rounded money)."""
    return humanize.NONE if usd is None else f"${usd:.8g} USD"


def truncate_middle(text: str | None, width: int) -> str:
    """Long ids keep their start and end: ``sess_738e…60c3``."""
    if not text or len(text) <= width:
        return text or ""
    keep = width - 1
    return text[: (keep + 1) // 2] + "…" + text[len(text) - keep // 2 :]


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def as_text(value: Any) -> str:
    """An attribute value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def dict_items(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return list(mapping.items())


def funnel_items(stages: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    return [(f"{s['stage_number']} {s['stage'] or ''}".strip(), s["sessions"]) for s in stages]


def end_reason(reason: str | None) -> str:
    """An end reason in a word or two: the idle timeout reads "idle"."""
    if not reason:
        return ""
    return "idle" if reason == "inactive_timeout" else reason.replace("_", " ")


FILTERS = {
    "end_reason": end_reason,
    "money": humanize.money,
    "exact_money": exact_money,
    "count": humanize.count,
    "number": humanize.number,
    "rate": humanize.rate,
    "pct": humanize.percent,
    "duration": humanize.duration,
    "exact_time": exact_time,
    "ago": ago,
    "urlsegment": lambda value: quote(str(value), safe=""),
    "truncate_middle": truncate_middle,
    "one_line": one_line,
    "as_text": as_text,
    "dictitems": dict_items,
    "funnel_items": funnel_items,
}


def page(template: str, status_code: int = 200, *, request: Request | None = None, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, with the pages' security headers; given the ``request``, the
    top bar shows who is signed in."""
    if request is not None:
        principal = principal_of(request)
        context.setdefault("signed_in", principal if principal is not None and principal.by_cookie else None)
        context.setdefault("may_change", principal is not None and principal.may(Access.WRITE))
    context.setdefault("signed_in", None)
    context.setdefault("may_change", False)
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
