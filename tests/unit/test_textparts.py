"""Long strings stored as parts (SQLite engine): whatever the value, the parts join back to it exactly, a
conversation's growing message array reuses the texts of the messages it repeats, and the cut of a value
does not depend on what the cutter saw before."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadline.server.store.sqlite import db, splitting, textparts, texts
from threadline.server.store.sqlite.textparts import Cutter

_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Texts:
    """An in-memory ``intern``: one id per distinct text."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def intern(self, text: str) -> int:
        return self.ids.setdefault(text, len(self.ids) + 1)

    def by_id(self) -> dict[int, str]:
        return {text_id: text for text, text_id in self.ids.items()}


def _joined(parts: textparts.Parts, texts: _Texts) -> str:
    found = texts.by_id()
    return "".join(found[p] if isinstance(p, int) else p for p in parts)


def _message(index: int, words: str) -> dict[str, Any]:
    return {"role": "user" if index % 2 == 0 else "assistant", "content": f"{index}: {words}"}


_WORDS = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=300)
_SPACING = st.sampled_from([None, 2, 0])
_JSONISH = st.one_of(
    _WORDS,
    st.lists(_WORDS, max_size=6).map(json.dumps),
    st.lists(_WORDS, max_size=6).map(lambda xs: json.dumps({"messages": xs})),
    st.lists(_WORDS, max_size=6).map(lambda xs: json.dumps(xs)[:-1]),
    st.lists(_WORDS, max_size=6).map(lambda xs: " " + json.dumps(xs, indent=1) + "\n"),
)


@_SETTINGS
@given(st.lists(_JSONISH, min_size=1, max_size=5))
def test_parts_join_back_to_every_value(values: list[str]) -> None:
    texts, cutter = _Texts(), Cutter()
    for value in values:
        attributes = {"input.value": value, "short": "s"}
        kept, refs = cutter.extract(1, texts.intern, attributes)
        if len(value) < textparts.MIN_CHARS:
            assert refs is None
            assert kept == attributes
            continue
        assert refs is not None
        assert kept == {"input.value": 0, "short": "s"}
        textparts.put_back(kept, refs, texts.by_id())
        assert kept == attributes


@_SETTINGS
@given(st.lists(_WORDS, min_size=2, max_size=8), _SPACING)
def test_a_growing_conversation_reuses_the_messages_it_repeats(words: list[str], indent: int | None) -> None:
    texts, cutter, fresh_texts = _Texts(), Cutter(), _Texts()
    messages = [_message(index, w + " " + "x" * textparts.MIN_CHARS) for index, w in enumerate(words)]
    for count in range(1, len(messages) + 1):
        value = json.dumps(messages[:count], indent=indent)
        parts = cutter.parts(1, "input.value", value, texts.intern)
        assert _joined(parts, texts) == value
        # Resumed from the last cut or cut afresh, the parts are the same.
        fresh = Cutter().parts(1, "input.value", value, fresh_texts.intern)
        assert [texts.by_id()[p] if isinstance(p, int) else p for p in parts] == [
            fresh_texts.by_id()[p] if isinstance(p, int) else p for p in fresh
        ]
    # Each message became one text, stored once however many calls resent it.
    assert len(texts.ids) == len({json.dumps(m, indent=indent) for m in messages})


def test_a_value_that_changes_its_start_is_cut_afresh() -> None:
    texts, cutter = _Texts(), Cutter()
    first = json.dumps([_message(0, "a" * 200), _message(1, "b" * 200)])
    second = json.dumps([_message(0, "c" * 200), _message(1, "b" * 200), _message(2, "d" * 200)])
    for value in (first, second, first + " trailing"):
        parts = cutter.parts(1, "k", value, texts.intern)
        assert _joined(parts, texts) == value


def test_pieces_refuse_what_is_not_a_json_container() -> None:
    assert splitting.pieces('"just a string"') is None
    assert splitting.pieces("[1, 2") is None
    assert splitting.pieces('{"a": 1}') is None
    assert splitting.pieces("[1, 2] x") is None
    found = splitting.pieces(' [1, {"b": 2}]\n')
    assert found is not None
    assert "".join(piece for _, piece in found) == ' [1, {"b": 2}]\n'
    assert [piece for element, piece in found if element] == ["1", '{"b": 2}']


# --- texts stored once per scope, messages as composites (SQLite) ----------------------------------------


def _database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    db.migrate(conn)
    return conn


def test_a_message_and_the_plain_string_it_holds_are_one_text() -> None:
    conn, writer = _database(), texts.TextWriter()
    # The scope is a trace stored before the writers start, so that they look texts up in the table.
    conn.execute("INSERT INTO traces (pk, project_id, trace_id, start_ns, end_ns, span_count, agg) "
                 "VALUES (7, 1, x'00', 0, 0, 0, x'')")  # fmt: skip
    writer.start(conn)
    answer = "It ships tomorrow from the Lyon warehouse, " * 5
    message = json.dumps({"role": "assistant", "parts": [{"type": "text", "content": answer}]})
    message_id = writer.intern(conn, -7, message)
    answer_id = writer.intern(conn, -7, answer)
    writer.flush(conn)
    assert conn.execute("SELECT count(*) FROM texts").fetchone()[0] == 2  # the answer once, the message around it
    assert texts.load(conn, [message_id, answer_id]) == {message_id: message, answer_id: answer}
    assert texts.load(conn, [message_id]) == {message_id: message}
    again = texts.TextWriter()  # a writer that starts cold finds both by their content
    again.start(conn)
    assert again.find(conn, -7, message) == message_id
    assert again.find(conn, -7, answer) == answer_id


_OBJECTISH = st.one_of(
    st.lists(_WORDS, max_size=4).map(lambda xs: json.dumps({"parts": [{"content": x} for x in xs]})),
    st.lists(_WORDS, max_size=4).map(lambda xs: json.dumps({"parts": xs}, ensure_ascii=False)),
    _WORDS.map(lambda x: "{" + x),
    _WORDS.map(lambda x: '{"a": "' + x * 3 + '"' + x),
)


@_SETTINGS
@given(st.lists(_OBJECTISH, min_size=1, max_size=6))
def test_every_stored_text_reads_back_as_it_came(values: list[str]) -> None:
    conn, writer = _database(), texts.TextWriter()
    writer.start(conn)
    ids = [writer.intern(conn, 1, value) for value in values]
    writer.flush(conn)
    assert texts.load(conn, ids) == dict(zip(ids, values, strict=True))
    for value, text_id in zip(values, ids, strict=True):
        assert texts.load(conn, [text_id]) == {text_id: value}
