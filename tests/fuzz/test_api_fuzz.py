"""Fuzz the read API and the pages of a real server holding data: no answer is a 5xx, no connection drops.

Requests are generated from the ``/openapi.json`` the server serves, with schemathesis's Python API
(``schemathesis.openapi.from_url``, then each operation's ``as_strategy`` in its positive and negative modes),
drawn by hypothesis under a fixed seed. Schemathesis only knows that every parameter is a string, so each
drawn case is also mutated by this module's strategies, which know what the values mean: timestamps around
and beyond what 64-bit nanoseconds hold, integers past 64 bits, cursors that are real, forged (positions of
every JSON type, wrong counts, other orderings) or not base64, text with NUL bytes, unicode and LIKE
metacharacters up to and past its length limit, repeated and empty parameters, raw percent-escapes in paths
and queries, very long ids, and the ids the server holds (so that found things are read too). The pages have
no OpenAPI description: their requests are drawn from the same strategies, with the pages' own parameters.
A request's values come in one of three styles: as schemathesis drew them with some made hostile; all allowed
but one hostile (so that the server reads as far as that one); or all allowed (real cursors included).

The server holds the captured corpus, sessions whose ids and users contain odd characters, and orphan
traces. Every GET route of the API is fuzzed (the stream's status is read, then the connection is closed),
then the pages, then the DELETE routes with random ids and real ones. Each step has a share of ``BUDGET_S``
(what a step leaves carries on to the next) and stops drawing past it, having sent at least
``MIN_PER_STEP`` requests. The counts per status code are printed at the end of the run and kept in the
test's ``status_counts`` property.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from support import corpus
from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.scenario import Session
from support.server import RunningServer, run_server
from threadline.server.store.base import ORDERINGS, USER_ORDERINGS
from threadline.server.web import views

SEED = 20_261_121
BUDGET_S = 32.0
"""Seconds the fuzz may take, shared among its steps (a step past its share is cut short)."""
BORROWED = 0.25
"""Share of the budget a step may borrow from the steps after it (the first pays for warming up)."""
MIN_PER_STEP = 10
"""Requests each step sends, however late it starts."""
EXAMPLES = {"query": 250, "query negative": 40, "path": 120, "plain": 5, "stream": 25, "stream negative": 10,
            "delete": 100, "page": 80}  # fmt: skip
"""Examples per operation and generation mode, by kind of operation (pages: per page). Negative cases cost
schemathesis five times as long to draw as positive ones, which this module makes hostile anyway."""

ODD_IDS = (
    "a/b", "a%2Fb", "ü 🙂 é", "<script>alert(1)</script>", "a?b#c&d=e", "a\\b", "a\x00b", "a\nb",
    "\u202egnp.exe", "%", "a+b", "..", "x" * 2000,
)  # fmt: skip
"""Session ids (and, reversed, user ids) stored on the server."""
RAW_SEGMENTS = (
    "%00", "a%00b", "%ED%A0%80", "%C0%AE%C0%AE", "%FF%FE", "%zz", "%", "%2F", "a%2Fb", "a/b", "a//b", "%2E%2E",
    "..%2F..%2Fetc%2Fpasswd", "%25", "%0A", "%0D%0A", "%E2%80%AE", "%F0%9F%99%82", "%20", "+", "%7B%7D", "%5C",
)  # fmt: skip
"""Path segments sent exactly as written."""
RAW_QUERIES = ("q=%ED%A0%80", "q=%zz", "q=%", "user_id=%00", "cursor=%FF", "since=%0A", "&&=&", "=x", "limit")
"""Query strings appended exactly as written."""

SETTINGS = settings(
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Known:
    """What the server holds, to put in requests."""

    session_ids: list[str]
    user_ids: list[str]
    trace_ids: list[str]
    cursors: dict[tuple[str, str], str]
    """A real next_cursor per list and ordering (``("users", "-total_cost")``, ``("traces", "orphans")``)."""
    hostile: dict[str, st.SearchStrategy[str]] = field(default_factory=dict)
    valid: dict[str, st.SearchStrategy[str]] = field(default_factory=dict)


class OutOfTime(Exception):
    """A step's share of the budget is spent: stop drawing."""


@dataclass
class Tally:
    """Sends requests until the deadline; counts statuses per phase and keeps what failed."""

    http: httpx.Client
    deadline: float
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    routes: Counter[str] = field(default_factory=Counter)
    parameters: set[tuple[str, str]] = field(default_factory=set)
    """(route, query parameter) sent with a value."""
    failures: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    """Steps stopped by the budget."""
    step_sent: int = 0

    def send(self, phase: str, route: str, method: str, url: str, query: Sequence[tuple[str, str]] = ()) -> None:
        """One request; ``url`` may carry a raw query of its own, ``query`` is appended encoded."""
        if time.monotonic() > self.deadline and self.step_sent >= MIN_PER_STEP:
            raise OutOfTime
        self.step_sent += 1
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        counts = self.counts.setdefault(phase, Counter())
        self.routes[route] += 1
        self.parameters.update((route, name) for name, value in query if value)
        try:
            if route == "GET /api/v1/stream":
                with self.http.stream(method, url) as response:
                    status, body = response.status_code, ""
            else:
                response = self.http.request(method, url)
                status, body = response.status_code, response.text
        except httpx.InvalidURL:  # the client's own limit (64 KiB a component): nothing was sent
            counts["not sent (URL too long)"] += 1
            return
        except httpx.TransportError as error:
            counts["connection error"] += 1
            self.failures.append(f"{method} {url[:500]}: {error!r}")
            return
        counts[str(status)] += 1
        if status >= 500:
            self.failures.append(f"{method} {url[:500]}: {status} {body[:300]}")

    def total(self) -> int:
        """Requests sent (the client refuses URLs over 64 KiB a component before sending them)."""
        return sum(n for c in self.counts.values() for status, n in c.items() if status.isdigit() or "error" in status)

    def lines(self, elapsed_s: float) -> list[str]:
        cut = f"; cut short by the budget: {', '.join(self.cut)}" if self.cut else ""
        lines = [f"{self.total()} requests in {elapsed_s:.1f} s{cut}"]
        for phase, counts in self.counts.items():
            shown = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
            lines.append(f"  {phase}: {sum(counts.values())} ({shown})")
        return lines


# Values that mean something to the server, by parameter name.


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_KINDS = [*ORDERINGS, *(f"-{o}" for o in ORDERINGS), *USER_ORDERINGS, *(f"-{o}" for o in USER_ORDERINGS), "orphans"]


def forged_cursors(kind: str) -> st.SearchStrategy[str]:
    """base64 of JSON: mostly ``kind`` (the ordering the request lists by) around an engine position (base64
    of JSON too) with values of any type and count; else another ordering, or any document."""
    kinds = st.just(kind) | st.sampled_from(_KINDS)
    position = st.one_of(
        st.tuples(_JSON, _JSON).map(list),
        st.tuples(_JSON_SCALARS, _JSON_SCALARS).map(list),
        st.tuples(_JSON_SCALARS, _JSON_SCALARS, _JSON_SCALARS).map(list),
        _JSON,
    ).map(lambda doc: _b64(json.dumps(doc).encode()))
    document = st.one_of(
        st.tuples(kinds, position).map(list),
        st.tuples(kinds, position).map(list),
        st.tuples(kinds, _JSON_SCALARS, _JSON_SCALARS).map(list),
        st.lists(_JSON, max_size=5).map(lambda rest: [kind, *rest]),
        _JSON,
    )
    return document.map(lambda doc: _b64(json.dumps(doc).encode()))


def cursors(known: Known, kind: str) -> st.SearchStrategy[str]:
    """Real cursors (of any ordering), damaged ones, forged ones for ``kind``, and junk."""
    real = sorted(known.cursors.values())
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(real).map(lambda c: c[:-1]),
        st.sampled_from(real).map(lambda c: c + "=="),
        forged_cursors(kind),
        forged_cursors(kind),
        st.binary(max_size=40).map(_b64),
        st.text(max_size=30),
        st.just("A" * 10_000),
    )


ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(-dt.timedelta(hours=23, minutes=59))]
ODD_TIMESTAMPS = [
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2300-01-01T00:00:00Z", "1677-09-21T00:12:43Z",
    "1677-09-21T00:12:44Z", "2262-04-11T23:47:16Z", "2262-04-11T23:47:16.5Z", "2262-04-11T23:47:17Z",
    "2262-04-11T23:47:16-14:00", "1677-09-21T00:12:44+14:00", "2026-11-21T10:00:00z", "2026-02-30",
    "2026-11-21", "2026-11-21T10:00", "now", "1e9", "-1", "２０２６-１１-２１",
]  # fmt: skip
TIMESTAMPS = st.one_of(
    st.sampled_from(ODD_TIMESTAMPS),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes(timezones=st.sampled_from(ZONES)).map(lambda d: d.isoformat()),
    st.text(max_size=25),
)
ODD_INTEGERS = [
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "1" * 30, "9" * 5000, "1e3", "0x10", " 1", "1 ", "1_000", "٣", "+5", "-0", "00", "NaN", "inf", "1.5",
]  # fmt: skip
INTEGERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.integers(min_value=0, max_value=600).map(str),
    st.sampled_from(ODD_INTEGERS),
    st.text(max_size=10),
)
LONG_TEXT = st.sampled_from(
    ["x" * 1000, "x" * 1001, "%" * 1000, "\\" * 1000, "é" * 1000, "_" * 25_001, "y" * 50_001, "%" * 20_000]
)
"""At and past the text limit; past what SQLite takes as a LIKE pattern (50,000 bytes) once escaped."""
TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["%", "_", "\\", "%_\\", "\x00", "a\x00b", "'; DROP TABLE sessions; --", "*", "[a-z]", "\u202e"]),
    LONG_TEXT,
)
BOOLEANS = st.sampled_from(["true", "false", "1", "0", "yes", "no", "TRUE", "True", "maybe", "", " true", "null"])
SESSION_ORDERINGS = [*ORDERINGS, *(f"-{o}" for o in ORDERINGS)]
USER_ORDERING_NAMES = [*USER_ORDERINGS, *(f"-{o}" for o in USER_ORDERINGS)]
USER_LISTS = ("/api/v1/users", "/users")
TRACE_LISTS = ("/api/v1/traces", "/traces")


def choices(allowed: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list(allowed)), st.text(max_size=20), LONG_TEXT)


def ids(values: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list(values)), st.text(max_size=30), LONG_TEXT)


def hostile_values(known: Known) -> dict[str, st.SearchStrategy[str]]:
    """For each parameter of the API and the pages: values around, at and past what it allows."""
    return {
        "since": TIMESTAMPS,
        "until": TIMESTAMPS,
        "min_turns": INTEGERS,
        "max_turns": INTEGERS,
        "limit": INTEGERS,
        "ordering": choices([*SESSION_ORDERINGS, *USER_ORDERING_NAMES, "-", "--last_seen"]),
        "has_error": BOOLEANS,
        "dropped_off": BOOLEANS,
        "returning": BOOLEANS,
        "orphan": BOOLEANS,
        "status": choices(["active", "ended", "ACTIVE"]),
        "q": TEXTS,
        "model": choices(["gpt-4o-mini", "gpt-4o"]),
        "user_id": ids(known.user_ids),
        "session_id": ids(known.session_ids),
        "range": choices([key for key, _ in views.RANGES]),
        "open": ids(known.session_ids),
        "live": choices(["1", "0", "true"]),
        "fragment": choices(["1", "0"]),
    }


def valid_values(known: Known) -> dict[str, st.SearchStrategy[str]]:
    """For each parameter (but the ordering and the cursor, which depend on the list): values it allows."""
    times = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)).map(lambda d: d.isoformat() + "Z")
    return {
        "since": times,
        "until": times,
        "min_turns": st.integers(0, 12).map(str),
        "max_turns": st.integers(0, 12).map(str),
        "limit": st.integers(1, 60).map(str) | st.just("500"),
        "has_error": st.sampled_from(["true", "false"]),
        "dropped_off": st.sampled_from(["true", "false"]),
        "returning": st.sampled_from(["true", "false"]),
        "orphan": st.just("true"),
        "status": st.sampled_from(["active", "ended"]),
        "q": st.text(max_size=20),
        "model": st.sampled_from(["gpt-4o-mini", "gpt-4o"]) | st.text(max_size=20),
        "user_id": st.sampled_from(known.user_ids),
        "session_id": st.sampled_from(known.session_ids),
        "range": st.sampled_from([key for key, _ in views.RANGES]),
        "open": st.sampled_from(known.session_ids),
        "live": st.just("1"),
        "fragment": st.just("1"),
    }


def encoded(value: str) -> str:
    """``value`` as one path segment, dots included (a client would resolve ``..``)."""
    return quote(value, safe="").replace(".", "%2E")


def segments(name: str, known: Known) -> st.SearchStrategy[str]:
    """A path segment for the path parameter ``name``, percent-encoded (or raw escapes, as written)."""
    real = {
        "session_id": known.session_ids,
        "user_id": known.user_ids,
        "trace_id": known.trace_ids,
        "key_id": ["tl_0123456789abcdef", "tl_", "tl_0123456789abcdef_" + "x" * 32],
    }[name]
    texts = st.one_of(st.sampled_from(real), st.text(max_size=40), st.integers(1000, 20_000).map(lambda n: "x" * n))
    extra = [st.sampled_from(real).map(str.upper), st.binary(max_size=24).map(bytes.hex)] if name == "trace_id" else []
    return st.one_of(texts.map(encoded), st.sampled_from(RAW_SEGMENTS), *extra)


def pairs_of(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters as schemathesis drew them (negative cases hold lists, objects, numbers) as strings."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((str(name), item if isinstance(item, str) else json.dumps(item)))
    return pairs


DEFAULT_KINDS = {
    "/api/v1/users": "-last_seen",
    "/users": "-last_seen",
    "/api/v1/traces": "orphans",
    "/traces": "orphans",
}
"""The cursor kind of a list that names no ordering (the others list sessions, newest first)."""


def value_for(
    name: str, pairs: list[tuple[str, str]], route: str, known: Known, hostile: bool
) -> st.SearchStrategy[str]:
    """A value of parameter ``name``, hostile or allowed; a cursor for the ordering the request lists by."""
    if name == "ordering" and not hostile:
        return st.sampled_from(USER_ORDERING_NAMES if route in USER_LISTS else SESSION_ORDERINGS)
    if name != "cursor":
        return (known.hostile if hostile else known.valid)[name]
    orderings = [v for n, v in pairs if n == "ordering" and v]
    kind = orderings[-1] if orderings else DEFAULT_KINDS.get(route, "-last_activity")
    listed = "users" if route in USER_LISTS else "traces" if route in TRACE_LISTS else "sessions"
    return cursors(known, kind) if hostile else st.just(known.cursors.get((listed, kind), ""))


@st.composite
def mutated(
    draw: st.DrawFn, pairs: list[tuple[str, str]], names: Sequence[str], route: str, known: Known
) -> list[tuple[str, str]]:
    """Query parameters in one of three styles: as drawn with some given hostile values; allowed values but
    one hostile (so that the server reads as far as that one); or all allowed. Some are repeated or empty."""
    if not names:
        return list(pairs)
    style = draw(st.sampled_from(["as drawn", "one hostile", "allowed"]))
    out = list(pairs) if style == "as drawn" else []
    chosen = set(draw(st.lists(st.sampled_from(list(names)), unique=True, max_size=len(names))))
    hostile = draw(st.sampled_from(list(names))) if style == "one hostile" else None
    for name in sorted(chosen | {hostile} - {None}, key=lambda n: n == "cursor"):
        bad = style == "as drawn" or name == hostile
        out = [(n, v) for n, v in out if n != name]
        out.append((name, draw(value_for(name, out, route, known, bad))))
        if draw(st.integers(0, 9)) == 0:
            out.append((name, draw(value_for(name, out, route, known, bad) | st.just(""))))
    return out


# The server and its data.


def _send_data(http: httpx.Client) -> None:
    for folder in corpus.FOLDERS:
        corpus.replay(http, folder)
    for n, session_id in enumerate(ODD_IDS):
        session = Session(session_id, user_id=session_id[::-1]).turn(n * 10.0, question=session_id)
        session.turn(n * 10.0 + 3, answer="%_\\ " + session_id, tool_error="boom").send(http)
    orphans = [SpanSpec(new_trace_id(), name="orphan root", attributes={"user.id": "orphan-user"}) for _ in "ab"]
    response = http.post("/v1/traces", content=request(*orphans), headers=PROTOBUF)
    assert response.status_code == 200, response.text


def _first_page(http: httpx.Client, name: str, params: dict[str, str]) -> str:
    """The next_cursor of the first page (of one row) of a list."""
    cursor: str = http.get(f"/api/v1/{name}", params={**params, "limit": "1"}).json()["next_cursor"]
    return cursor


def _known(http: httpx.Client) -> Known:
    sessions = http.get("/api/v1/sessions", params={"limit": "500"}).json()["sessions"]
    users = http.get("/api/v1/users", params={"limit": "500"}).json()["users"]
    orphans = http.get("/api/v1/traces", params={"orphan": "true"}).json()["traces"]
    trace_ids = [t["trace_id"] for t in orphans]
    for s in sessions[:10]:
        detail = http.get(f"/api/v1/sessions/{encoded(s['session_id'])}").json()
        trace_ids += [trace for turn in detail["turns"] for trace in turn["trace_ids"]]
    lists = [("sessions", o) for o in SESSION_ORDERINGS] + [("users", o) for o in USER_ORDERING_NAMES]
    cursors = {(name, ordering): _first_page(http, name, {"ordering": ordering}) for name, ordering in lists}
    cursors["traces", "orphans"] = _first_page(http, "traces", {"orphan": "true"})
    assert sessions
    assert users
    assert trace_ids
    assert all(cursors.values()), cursors
    known = Known([s["session_id"] for s in sessions], [u["user_id"] for u in users], trace_ids, cursors)
    known.hostile, known.valid = hostile_values(known), valid_values(known)
    return known


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Known]]:
    with run_server(tmp_path_factory.mktemp("fuzz") / "data") as running, running.client() as http:
        _send_data(http)
        yield running, _known(http)


# The fuzz.


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.method.upper() in ("GET", "DELETE")]


def _query_names(operation: Any) -> list[str]:
    return [p.name for p in operation.iter_parameters() if p.location.value == "query"]


def _path_names(operation: Any) -> list[str]:
    return [p.name for p in operation.iter_parameters() if p.location.value == "path"]


def _examples(operation: Any, mode: GenerationMode) -> int:
    """How many requests to draw for ``operation`` in ``mode`` (``EXAMPLES``)."""
    if operation.method.upper() == "DELETE":
        kind = "delete"
    elif operation.path == "/api/v1/stream":
        kind = "stream"
    else:
        kind = "query" if _query_names(operation) else "path" if _path_names(operation) else "plain"
    return EXAMPLES[f"{kind} negative" if mode == GenerationMode.NEGATIVE else kind]


def _modes(operation: Any) -> list[GenerationMode]:
    """Negative cases need a parameter that can be wrong: a query parameter (any string fits a path one)."""
    return [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _query_names(operation) else [])


def fuzz_operation(operation: Any, mode: GenerationMode, tally: Tally, base: str, known: Known) -> None:
    """Send the requests schemathesis draws for ``operation`` in ``mode``, mutated."""
    route = f"{operation.method.upper()} {operation.path}"
    names, path_names = _query_names(operation), _path_names(operation)
    path_segments = {name: st.none() | segments(name, known) for name in path_names}
    phase = "DELETE" if operation.method.upper() == "DELETE" else "API GET"

    @settings(SETTINGS, max_examples=_examples(operation, mode))
    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        sent = case.as_transport_kwargs(base_url=base)
        url = sent["url"]
        raw = {name: data.draw(strategy) for name, strategy in path_segments.items()}
        if any(segment is not None for segment in raw.values()):
            url = base + operation.path
            for name in path_names:
                url = url.replace(f"{{{name}}}", raw[name] or encoded(str(case.path_parameters[name])))
        pairs = data.draw(mutated(pairs_of(sent.get("params")), names, operation.path, known))
        if names and data.draw(st.integers(0, 19)) == 0:
            url += "?" + data.draw(st.sampled_from(RAW_QUERIES))
        tally.send(phase, route, operation.method.upper(), url, pairs)

    run()


PAGES: dict[str, tuple[str, ...]] = {
    "/": views.SESSION_FIELDS,
    "/analytics": views.ANALYTICS_FIELDS,
    "/users": views.USER_FIELDS,
    "/traces": ("orphan", "cursor"),
    "/sessions/{session_id}": ("fragment",),
    "/users/{user_id}": ("cursor",),
    "/traces/{trace_id}": ("fragment",),
}
"""Each page and the query parameters it reads."""


@st.composite
def page_requests(draw: st.DrawFn, known: Known) -> tuple[str, str, list[tuple[str, str]]]:
    """(route, path, query) of a page, with the page's own parameters (a custom window half the time)."""
    pages = PAGES
    template = draw(st.sampled_from(sorted(pages)))
    path = template
    for name in ("session_id", "user_id", "trace_id"):
        if f"{{{name}}}" in path:
            path = path.replace(f"{{{name}}}", draw(segments(name, known)))
    query = [("orphan", "true")] if template == "/traces" else []
    query = draw(mutated(query, pages[template], template, known))
    if "range" in pages[template] and draw(st.booleans()):
        query.append(("range", "custom"))
    return template, path, query


def fuzz_pages(tally: Tally, base: str, known: Known) -> None:
    @settings(SETTINGS, max_examples=EXAMPLES["page"] * len(PAGES))
    @seed(SEED)
    @given(page=page_requests(known))
    def run(page: tuple[str, str, list[tuple[str, str]]]) -> None:
        template, path, query = page
        tally.send("pages", f"page {template}", "GET", base + path, query)

    run()


@dataclass
class Step:
    """Part of the run, with its share of the time budget (the examples it plans to send)."""

    name: str
    weight: int
    run: Callable[[], None]


def _steps(operations: list[Any], tally: Tally, base: str, known: Known) -> list[Step]:
    """Every GET operation in each mode, then the pages, then the DELETE operations."""

    def step(operation: Any, mode: GenerationMode) -> Step:
        name = f"{operation.method.upper()} {operation.path} ({mode.value})"
        return Step(name, _examples(operation, mode), lambda: fuzz_operation(operation, mode, tally, base, known))

    gets = [step(op, mode) for op in operations if op.method.upper() == "GET" for mode in _modes(op)]
    deletes = [step(op, mode) for op in operations if op.method.upper() == "DELETE" for mode in _modes(op)]
    pages = Step("pages", EXAMPLES["page"] * len(PAGES), lambda: fuzz_pages(tally, base, known))
    return [*gets, pages, *deletes]


def _was_cut(route: str, cut: list[str]) -> bool:
    """Whether a step of ``route`` was cut short (``cut`` holds step names: a route and its mode, or pages)."""
    return any(step.split(" (")[0] == route or (step == "pages" and route.startswith("page ")) for step in cut)


def test_no_request_is_answered_with_a_server_error(
    loaded: tuple[RunningServer, Known], record_property: Any, summary: list[str]
) -> None:
    server, known = loaded
    started = time.monotonic()
    operations = _operations(server.url)
    with httpx.Client(timeout=30.0) as http:
        tally = Tally(http, started + BUDGET_S)
        steps = _steps(operations, tally, server.url, known)
        planned, total = 0, sum(s.weight for s in steps)
        for step in steps:  # each runs until its share of the budget is spent; what it leaves carries on
            planned += step.weight
            share = BUDGET_S * (planned / total + BORROWED)
            tally.deadline, tally.step_sent = started + min(share, BUDGET_S), 0
            try:
                step.run()
            except OutOfTime:
                tally.cut.append(step.name)
    elapsed = time.monotonic() - started
    record_property("status_counts", json.dumps({phase: dict(c) for phase, c in tally.counts.items()}))
    summary.extend(tally.lines(elapsed))
    print("\n".join(tally.lines(elapsed)))
    assert not tally.failures, f"{len(tally.failures)} failed requests:\n" + "\n".join(tally.failures[:30])
    routes = {f"{op.method.upper()} {op.path}" for op in operations} | {f"page {page}" for page in PAGES}
    assert routes <= set(tally.routes), f"not fuzzed: {routes - set(tally.routes)}"
    parameters = {(f"{op.method.upper()} {op.path}", name) for op in operations for name in _query_names(op)}
    parameters |= {(f"page {page}", name) for page, names in PAGES.items() for name in names}
    parameters = {(route, name) for route, name in parameters if not _was_cut(route, tally.cut)}
    assert parameters <= tally.parameters, f"never given a value: {sorted(parameters - tally.parameters)}"
    assert tally.total() >= 1000, tally.lines(elapsed)
