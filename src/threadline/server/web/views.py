"""A page's state as its URL holds it: filters, time window, ordering, page, open session. Pure.

Every view is a URL, so a page can be linked, reloaded and navigated back to. ``View`` reads the query
string, turns the page's own values (a relative time ``range``, the open drawer, live mode) into the
API's parameters, and builds the URL of a changed view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from threadline.server.store.base import ORDERINGS
from threadline.server.web import layout, messages

RANGES: tuple[tuple[str, str], ...] = (
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("custom", "Custom…"),
)
_RANGE_SECONDS = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


def _ordering_label(name: str, descending: bool) -> str:
    if name.endswith("_activity"):
        return f"{name.replace('_', ' ')}, {'newest' if descending else 'oldest'} first"
    return f"{name.replace('_', ' ')}, {'highest' if descending else 'lowest'} first"


SESSION_ORDERINGS: tuple[tuple[str, str], ...] = tuple(
    (f"{'-' if descending else ''}{name}", _ordering_label(name, descending))
    for name in ORDERINGS
    for descending in (True, False)
)
"""The session list's orderings, as the sort menu offers them."""

SESSION_FIELDS = (
    "q", "user_id", "range", "since", "until", "status", "dropped_off", "has_error", "model", "min_turns",
    "max_turns", "ordering", "cursor", "open", "live",
)  # fmt: skip
SESSION_FILTERS = ("q", "user_id", "status", "dropped_off", "has_error", "model", "min_turns", "max_turns")
USER_FIELDS = ("range", "since", "until", "returning", "ordering", "cursor")
ANALYTICS_FIELDS = ("range", "since", "until", "user_id")


@dataclass(frozen=True, slots=True)
class View:
    """The values of one page's URL (only those given), read by templates as attributes (``view.q``)."""

    path: str
    values: Mapping[str, str]
    defaults: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, path: str, query: Iterable[tuple[str, str]], fields: Sequence[str], defaults: Mapping[str, str] = {}
    ) -> View:
        values = {name: value for name, value in query if name in fields and value != ""}
        return cls(path, values, dict(defaults))

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.values.get(name, self.defaults.get(name, ""))

    @property
    def ordering(self) -> str:
        return self.values.get("ordering", self.defaults.get("ordering", ""))

    @property
    def live(self) -> bool:
        return self.values.get("live") == "1"

    def url(self, **changes: str | None) -> str:
        """This view's URL with ``changes`` applied (``None`` removes a value)."""
        values = dict(self.values)
        for name, value in changes.items():
            if value is None or value == "":
                values.pop(name, None)
            else:
                values[name] = value
        values = {k: v for k, v in values.items() if v != self.defaults.get(k)}
        return self.path + ("?" + urlencode(values) if values else "")

    @property
    def since_input(self) -> str:
        return _local_input(self.values.get("since"))

    @property
    def until_input(self) -> str:
        return _local_input(self.values.get("until"))

    def window(self, now_ns: int) -> dict[str, str | None]:
        """``since`` and ``until`` for the API: a preset range counts back from now; custom ones are UTC."""
        preset = _RANGE_SECONDS.get(self.values.get("range", ""))
        if preset is not None:
            since = dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC) - dt.timedelta(seconds=preset)
            return {"since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "until": None}
        if self.values.get("range") == "custom":
            return {"since": _utc(self.values.get("since")), "until": _utc(self.values.get("until"))}
        return {"since": None, "until": None}

    def api_params(self, names: Sequence[str], now_ns: int) -> dict[str, str | None]:
        """The API's parameters for this view: ``names`` as given, the window resolved."""
        params: dict[str, str | None] = {name: self.values.get(name, self.defaults.get(name)) for name in names}
        params.update(self.window(now_ns))
        return params

    def stream_url(self, now_ns: int) -> str:
        """Where the live rows of this view come from (its filters and ordering, not its page)."""
        params = {k: v for k, v in self.api_params((*SESSION_FILTERS, "ordering"), now_ns).items() if v}
        return "/ui/stream?" + urlencode(params)

    @property
    def ordering_label(self) -> str:
        name = self.ordering.lstrip("-").replace("_", " ")
        return f"by {name}, {'highest' if self.ordering.startswith('-') else 'lowest'} first"


def _local_input(value: str | None) -> str:
    """An ISO 8601 value as a ``datetime-local`` input shows it (no zone)."""
    if not value:
        return ""
    return value.removesuffix("Z")[:19]


def _utc(value: str | None) -> str | None:
    """A ``datetime-local`` value (no zone) as the API's UTC timestamp; anything else as it is."""
    if not value:
        return None
    if len(value) in (16, 19) and "T" in value and value[-1].isdigit():
        return value + ("Z" if len(value) == 19 else ":00Z")
    return value


@dataclass(frozen=True, slots=True)
class SessionPage:
    """What the session templates need beyond the API's detail."""

    session: dict[str, Any]
    timeline: layout.Timeline
    runs_view: bool
    """Shown as independent runs (batch or task sessions), not as a chat."""


NON_CONVERSATIONAL_TYPES = frozenset({"batch", "task", "job"})


def session_page(detail: dict[str, Any]) -> SessionPage:
    attributes = detail.get("attributes") or {}
    kind = str(attributes.get("session.type", "")).lower()
    runs = kind in NON_CONVERSATIONAL_TYPES or str(attributes.get("session.conversational")).lower() == "false"
    return SessionPage(detail, layout.timeline(detail["turns"]), runs)


def trace_page(trace: dict[str, Any]) -> layout.Waterfall:
    """The trace's waterfall, each span with its input and output as messages."""
    return layout.waterfall(trace["trace_id"], [_with_messages(span) for span in trace["spans"]])


def _with_messages(span: dict[str, Any]) -> dict[str, Any]:
    return {
        **span,
        "messages": {"input": messages.input_messages(span), "output": messages.output_messages(span)},
        "children": [_with_messages(child) for child in span["children"]],
    }
