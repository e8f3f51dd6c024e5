"""Values the read API cannot use are a 400 naming the parameter and what it allows; unknown ids are a 404;
nothing is a 500. The pages, which read through the same functions, show the refusal with a 400."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.scenario import Session
from support.server import RunningServer, run_server
from threadline.server.store.base import ORDERINGS, USER_ORDERINGS

EARLIEST, LATEST = "1677-09-21T00:12:44Z", "2262-04-11T23:47:16Z"
WINDOWED = ["/api/v1/sessions", "/api/v1/users", "/api/v1/analytics/sessions", "/api/v1/analytics/journeys"]
UNCHANGED = "the next_cursor value of a previous page, unchanged"
ODD_IDS = ["a\nb", "a/b", "a\x00b", "ü 🙂", "%", "a?b#c"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("hostile") / "data") as running, running.client() as http:
        for n in range(3):
            Session(f"s-{n}", user_id=f"user-{n}").turn(n * 10.0, cost_usd=0.01 * n).send(http)
        for n, session_id in enumerate(ODD_IDS):
            Session(session_id, user_id=session_id[::-1]).turn(100.0 + n).send(http)
        orphans = [SpanSpec(new_trace_id(), name="orphan") for _ in range(2)]
        assert http.post("/v1/traces", content=request(*orphans), headers=PROTOBUF).status_code == 200
        yield running


def _get(server: RunningServer, path: str, **params: str) -> httpx.Response:
    with server.client() as http:
        return http.get(path, params=params)


def _refused(response: httpx.Response, parameter: str, *expected: str) -> dict[str, Any]:
    """The error of a 400 naming ``parameter``, whose message says each of ``expected``."""
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "bad_parameter"
    assert error["detail"]["parameter"] == parameter
    assert f"for '{parameter}'" in error["message"]
    for text in expected:
        assert text in error["message"], error["message"]
    return error


def _b64(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _cursor(*doc: object) -> str:
    """A cursor as the API makes them: the listing's kind around the engine's position (both base64 JSON);
    a lone value stands for a document that is no cursor at all."""
    if len(doc) > 1 and isinstance(doc[0], str):
        return _b64([doc[0], _b64(list(doc[1:]))])
    return _b64(list(doc))


# Times outside 64-bit nanoseconds.


@pytest.mark.parametrize("path", WINDOWED)
@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize(
    "value",
    ["2300-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2262-04-11T23:47:17Z",
     "1677-09-21T00:12:43Z", "2262-04-11T23:47:16-01:00"],
)  # fmt: skip
def test_a_time_outside_1677_to_2262_is_refused_with_the_range(
    server: RunningServer, path: str, name: str, value: str
) -> None:
    error = _refused(_get(server, path, **{name: value}), name, f"from {EARLIEST} to {LATEST}")
    assert error["detail"] == {"parameter": name, "value": value, "earliest": EARLIEST, "latest": LATEST}


@pytest.mark.parametrize("path", WINDOWED)
def test_the_first_and_last_seconds_of_the_range_are_accepted(server: RunningServer, path: str) -> None:
    assert _get(server, path, since=EARLIEST, until=LATEST).status_code == 200


def test_an_unreadable_time_says_the_range_too(server: RunningServer) -> None:
    _refused(_get(server, "/api/v1/sessions", since="yesterday"), "since", "ISO 8601", EARLIEST, LATEST)


# Integers past 64 bits.


@pytest.mark.parametrize("name", ["min_turns", "max_turns"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 40, "9" * 5000, "-1", "1e3", "٣", " 1", "1_0"])
def test_a_turn_count_outside_0_to_2_63_is_refused_with_the_range(server: RunningServer, name: str, value: str) -> None:
    error = _refused(_get(server, "/api/v1/sessions", **{name: value}), name, f"from 0 to {2**63 - 1}")
    assert (error["detail"]["minimum"], error["detail"]["maximum"]) == (0, 2**63 - 1)


def test_the_largest_turn_count_is_accepted(server: RunningServer) -> None:
    response = _get(server, "/api/v1/sessions", min_turns=str(2**63 - 1), max_turns=str(2**63 - 1))
    assert response.status_code == 200, response.text
    assert response.json()["sessions"] == []


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/users", "/api/v1/traces"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "0", "501", "-5", "five"])
def test_a_limit_outside_1_to_500_is_refused_with_the_range(server: RunningServer, path: str, value: str) -> None:
    orphans = {"orphan": "true"} if path == "/api/v1/traces" else {}
    error = _refused(_get(server, path, limit=value, **orphans), "limit", "from 1 to 500")
    assert (error["detail"]["minimum"], error["detail"]["maximum"]) == (1, 500)


# Forged cursors: each position of the type its ordering holds.

BAD_POSITIONS = {
    "a list": [[1], 1],
    "an object": [{"a": 1}, 1],
    "null": [None, 1],
    "a boolean": [True, 1],
    "a string for a number": ["1", 1],
    "a huge integer": [2**63, 1],
    "an integer past 64 bits": [2**70, 1],
    "a negative huge integer": [-(2**63) - 1, 1],
    "a float for the key": [1, 1.5],
    "a string for the key": [1, "1"],
    "null for the key": [1, None],
    "a list for the key": [1, [1]],
    "too few": [1],
    "too many": [1, 1, 1],
}


READ_AS_FLOATS = ("an integer past 64 bits", "a negative huge integer")
"""Past what JSON integers hold here, so read as floats: a cost may be one."""
SESSION_CASES = [
    pytest.param(ordering, position, id=f"{ordering}-{name}")
    for ordering in [*ORDERINGS, *(f"-{o}" for o in ORDERINGS)]
    for name, position in BAD_POSITIONS.items()
    if not (ordering.endswith("total_cost") and name in READ_AS_FLOATS)
]


@pytest.mark.parametrize(("ordering", "position"), SESSION_CASES)
def test_a_forged_session_cursor_is_refused(server: RunningServer, ordering: str, position: list[Any]) -> None:
    cursor = _cursor(ordering, *position)
    _refused(_get(server, "/api/v1/sessions", ordering=ordering, cursor=cursor), "cursor", UNCHANGED)


@pytest.mark.parametrize("position", [[1.5, 1], [1e300, 1]], ids=["a float", "a huge float"])
def test_a_float_is_refused_where_the_ordering_holds_integers(server: RunningServer, position: list[Any]) -> None:
    cursor = _cursor("-last_activity", *position)
    _refused(_get(server, "/api/v1/sessions", cursor=cursor), "cursor", UNCHANGED)


@pytest.mark.parametrize("cost", [0.015, 1, -1.0], ids=["a float", "an integer", "unpriced"])
def test_a_cost_position_may_be_any_finite_number(server: RunningServer, cost: float) -> None:
    response = _get(server, "/api/v1/sessions", ordering="-total_cost", cursor=_cursor("-total_cost", cost, 2))
    assert response.status_code == 200, response.text


USER_BAD_POSITIONS = {
    "a list": [[1], "u"],
    "an object": [{}, "u"],
    "null": [None, "u"],
    "a string for a number": ["1", "u"],
    "a huge integer": [2**63, "u"],
    "an integer for the user id": [1, 5],
    "null for the user id": [1, None],
    "a list for the user id": [1, ["u"]],
    "too few": [1],
    "too many": [1, "u", 1],
}


@pytest.mark.parametrize("ordering", [*USER_ORDERINGS, *(f"-{o}" for o in USER_ORDERINGS)])
@pytest.mark.parametrize("position", USER_BAD_POSITIONS.values(), ids=USER_BAD_POSITIONS.keys())
def test_a_forged_user_cursor_is_refused(server: RunningServer, ordering: str, position: list[Any]) -> None:
    cursor = _cursor(ordering, *position)
    _refused(_get(server, "/api/v1/users", ordering=ordering, cursor=cursor), "cursor", UNCHANGED)


@pytest.mark.parametrize(
    "position", [[2**63, 1], [1, 2**64], [True, 1], [1.0, 1], ["1", 1], [None, 1], [[1], 1], [1], [1, 1, 1]]
)
def test_a_forged_orphan_cursor_is_refused(server: RunningServer, position: list[Any]) -> None:
    response = _get(server, "/api/v1/traces", orphan="true", cursor=_cursor("orphans", *position))
    _refused(response, "cursor", UNCHANGED)


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", _cursor({"a": 1}), "A" * 10_000, "é"])
def test_a_cursor_that_is_not_one_is_refused(server: RunningServer, cursor: str) -> None:
    error = _refused(_get(server, "/api/v1/sessions", cursor=cursor), "cursor", UNCHANGED)
    assert len(error["message"]) < 400


def _page_through(server: RunningServer, path: str, key: str, **params: str) -> int:
    """How many rows a list has, read two at a time by following next_cursor."""
    seen, cursor = 0, ""
    while True:
        page = _get(server, path, limit="2", cursor=cursor, **params).json()
        seen += len(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize(
    ("key", "orderings"), [("sessions", ORDERINGS), ("users", USER_ORDERINGS)], ids=["sessions", "users"]
)
def test_real_cursors_page_through_every_ordering(server: RunningServer, key: str, orderings: tuple[str, ...]) -> None:
    path = f"/api/v1/{key}"
    everything = len(_get(server, path, limit="500").json()[key])
    for ordering in [*orderings, *(f"-{o}" for o in orderings)]:
        assert _page_through(server, path, key, ordering=ordering) == everything, ordering


def test_real_cursors_page_through_orphan_traces(server: RunningServer) -> None:
    assert _page_through(server, "/api/v1/traces", "traces", orphan="true") == 2


# Text.


@pytest.mark.parametrize("q", ["x" * 1001, "y" * 50_000, "_" * 25_001, "é" * 1001])
def test_a_search_text_over_1000_characters_is_refused(server: RunningServer, q: str) -> None:
    error = _refused(_get(server, "/api/v1/sessions", q=q), "q", "at most 1000 characters")
    assert error["detail"]["maximum_length"] == 1000
    assert f"({len(q)} characters)" in error["message"]
    assert len(error["message"]) < 400


@pytest.mark.parametrize("q", ["%" * 1000, "_" * 1000, "\\" * 1000, "😀" * 1000, "'; --"])
def test_search_texts_up_to_1000_characters_are_searched(server: RunningServer, q: str) -> None:
    response = _get(server, "/api/v1/sessions", q=q)
    assert response.status_code == 200, response.text
    assert response.json()["sessions"] == []


@pytest.mark.parametrize("q", ["\x00", "a\x00b"])
def test_a_search_text_with_a_nul_character_is_refused(server: RunningServer, q: str) -> None:
    _refused(_get(server, "/api/v1/sessions", q=q), "q", "without NUL characters")


def test_a_long_unknown_parameter_is_named_in_short(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        response = http.get("/api/v1/sessions?" + "x" * 60_000 + "=1")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_parameter"
    assert "(60000 characters)" in error["message"]
    assert len(response.content) < 1000


# Ids in paths.


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_a_session_with_an_odd_id_is_read_and_erased(tmp_path: Path, session_id: str) -> None:
    with run_server(tmp_path / "data") as running, running.client() as http:
        Session(session_id, user_id="ann").turn(0).send(http)
        path = "/api/v1/sessions/" + quote(session_id, safe="")
        read = http.get(path)
        page = http.get("/sessions/" + quote(session_id, safe=""))
        erased = http.delete(path)
        gone = http.get(path)
    assert read.status_code == 200, read.text
    assert read.json()["session_id"] == session_id
    assert page.status_code == 200
    assert erased.status_code == 200, erased.text
    assert gone.status_code == 404


@pytest.mark.parametrize("user_id", [i[::-1] for i in ODD_IDS])
def test_a_user_with_an_odd_id_is_read_on_the_api_and_the_page(server: RunningServer, user_id: str) -> None:
    with server.client() as http:
        read = http.get("/api/v1/users/" + quote(user_id, safe=""))
        page = http.get("/users/" + quote(user_id, safe=""))
    assert read.status_code == 200, read.text
    assert read.json()["user_id"] == user_id
    assert page.status_code == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/sessions/", "/api/v1/users/"])
@pytest.mark.parametrize("segment", ["%00", "z%00z", "%ED%A0%80", "%FF", "%0A", "%zz", "x" * 20_000, "%2E%2E", ""])
def test_an_unknown_id_of_any_content_is_a_404(server: RunningServer, method: str, path: str, segment: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        response = http.request(method, path + segment)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert len(error["message"]) < 400


@pytest.mark.parametrize("segment", ["%00" * 16, "zz" * 16, "ab" * 15, "ab" * 17, "x" * 20_000, "%ED%A0%80"])
def test_a_trace_id_that_is_not_32_hex_characters_is_refused(server: RunningServer, segment: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        response = http.get("/api/v1/traces/" + segment)
    _refused(response, "trace_id", "32 hexadecimal characters")


def test_the_store_finds_nothing_for_ids_it_could_not_hold(server: RunningServer) -> None:
    store = server.runtime.store
    assert store.get_session(1, "a\x00b") is not None
    assert store.get_session(1, "no\x00such") is None
    assert store.get_session(1, "lone \ud800 surrogate") is None
    assert store.get_user(1, "lone \udcff") is None
    assert store.get_sessions(1, ["\ud800", "s-1"])[0].session_id == "s-1"


# The pages show the same refusals.

PAGE_REFUSALS = [
    ("/", {"range": "custom", "since": "2300-01-01T00:00"}, f"from {EARLIEST} to {LATEST}"),
    ("/", {"min_turns": str(2**63)}, f"from 0 to {2**63 - 1}"),
    ("/", {"q": "x" * 5000}, "at most 1000 characters"),
    ("/", {"cursor": _cursor("-last_activity", [1], 2)}, UNCHANGED),
    ("/", {"ordering": "-total_cost", "cursor": _cursor("-total_cost", "1", 2)}, UNCHANGED),
    ("/users", {"range": "custom", "until": "0001-01-01T00:00"}, f"from {EARLIEST} to {LATEST}"),
    ("/users", {"cursor": _cursor("-last_seen", 1, None)}, UNCHANGED),
    ("/analytics", {"range": "custom", "until": "9999-01-01T00:00"}, f"from {EARLIEST} to {LATEST}"),
    ("/traces", {"orphan": "true", "cursor": _cursor("orphans", 2**64, 1)}, ""),
    ("/users/user-1", {"cursor": _cursor("-last_activity", {}, 1)}, ""),
]
"""(page, values, what the page says); the orphan traces and a user's page answer 400 without saying why."""


@pytest.mark.parametrize(("path", "params", "says"), PAGE_REFUSALS)
def test_a_page_shows_the_refusal_with_a_400(
    server: RunningServer, path: str, params: dict[str, str], says: str
) -> None:
    response = _get(server, path, **params)
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert says.replace("'", "&#39;") in response.text


@pytest.mark.parametrize("path", ["/sessions/a%0Ab", "/sessions/%00", "/users/%00", "/traces/%00", "/?open=%00"])
def test_a_page_of_an_odd_id_is_never_a_server_error(server: RunningServer, path: str) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.get(path).status_code in (200, 404)
