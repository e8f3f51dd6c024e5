"""Human-readable messages out of every prompt / answer shape (``ingest.text``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from threadline.server.ingest import text

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "second question"},
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("hi", "hi", id="string"),
        pytest.param("", None, id="empty-string-absent"),
        pytest.param(None, None, id="none"),
        pytest.param(3, "3", id="int"),
        pytest.param(1.5, "1.5", id="double"),
        pytest.param(False, "False", id="bool"),
        pytest.param(["a", 1], '["a",1]', id="array-as-json"),
        pytest.param({"k": [True]}, '{"k":[true]}', id="kvlist-as-json"),
    ],
)
def test_as_text(value: Any, expected: str | None) -> None:
    assert text.as_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('{"a": 1}', {"a": 1}, id="object"),
        pytest.param("[1, 2]", [1, 2], id="array"),
        pytest.param("plain words", None, id="not-json-looking"),
        pytest.param("42", None, id="number-is-not-parsed"),
        pytest.param("{broken", None, id="invalid"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_json(value: str, expected: Any) -> None:
    assert text.parse_json(value) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param({"role": "user", "content": "plain"}, "plain", id="openai-string-content"),
        pytest.param(
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"text": "b"}]},
            "a\nb",
            id="content-blocks",
        ),
        pytest.param(
            {"role": "user", "parts": [{"type": "text", "content": "x"}, {"type": "tool_call", "name": "f"}]},
            "x",
            id="otel-genai-parts",
        ),
        pytest.param({"role": "user", "parts": [{"content": "untyped part"}]}, "untyped part", id="part-without-type"),
        pytest.param({"role": "assistant", "parts": [{"type": "tool_call", "name": "f"}]}, None, id="only-tool-call"),
        pytest.param({"role": "assistant", "content": None}, None, id="null-content"),
        pytest.param("bare string", "bare string", id="bare-string"),
    ],
)
def test_message_content(message: Any, expected: str | None) -> None:
    assert text.message_content(message) == expected


@pytest.mark.parametrize(
    ("messages", "expected_user", "expected_assistant"),
    [
        pytest.param(CHAT, "second question", "first answer", id="list"),
        pytest.param({"messages": CHAT, "model": "m"}, "second question", "first answer", id="request-body"),
        pytest.param({"role": "user", "content": "single"}, "single", None, id="single-message"),
        pytest.param("just text", "just text", "just text", id="bare-string"),
        pytest.param([{"role": "USER", "content": "shouted"}], "shouted", None, id="role-case-insensitive"),
        pytest.param([{"role": "human", "content": "h"}, {"role": "ai", "content": "a"}], "h", "a", id="langchain"),
        pytest.param([{"role": "model", "parts": [{"type": "text", "content": "g"}]}], None, "g", id="gemini-model"),
        pytest.param(
            [{"role": "user", "content": "real"}, {"role": "user", "content": ""}],
            "real",
            None,
            id="empty-last-skipped",
        ),
        pytest.param([{"role": "system", "content": "sys"}], None, None, id="system-only"),
        pytest.param(42, None, None, id="not-messages"),
    ],
)
def test_last_user_and_assistant_message(
    messages: Any, expected_user: str | None, expected_assistant: str | None
) -> None:
    assert text.user_messages(messages) == expected_user
    assert text.assistant_messages(messages) == expected_assistant


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(orjson.dumps({"messages": CHAT}).decode(), "second question", id="openai-request"),
        pytest.param(orjson.dumps(CHAT).decode(), "second question", id="message-list"),
        pytest.param("What is the weather?", "What is the weather?", id="plain-text"),
        pytest.param('{"query": "x"}', '{"query": "x"}', id="json-without-messages"),
        pytest.param(orjson.dumps([CHAT[0]]).decode(), orjson.dumps([CHAT[0]]).decode(), id="system-prompt-only"),
    ],
)
def test_user_text_from_json(value: str, expected: str) -> None:
    assert text.user_text_from_json(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            orjson.dumps({"choices": [{"message": {"role": "assistant", "content": "the answer"}}]}).decode(),
            "the answer",
            id="openai-chat-response",
        ),
        pytest.param(
            orjson.dumps({"choices": [{"text": "completion text"}]}).decode(), "completion text", id="openai-completion"
        ),
        pytest.param(
            orjson.dumps([{"role": "assistant", "content": "a1"}, {"role": "assistant", "content": "a2"}]).decode(),
            "a2",
            id="final-assistant-message",
        ),
        pytest.param("plain answer", "plain answer", id="plain-text"),
        pytest.param('{"result": 3}', '{"result": 3}', id="json-without-messages"),
    ],
)
def test_assistant_text_from_json(value: str, expected: str) -> None:
    assert text.assistant_text_from_json(value) == expected


def test_indexed_messages_openinference() -> None:
    attrs = {
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "sys",
        "llm.input_messages.10.message.role": "user",
        "llm.input_messages.10.message.content": "tenth",
        "llm.input_messages.2.message.role": "user",
        "llm.input_messages.2.message.contents.0.message_content.type": "text",
        "llm.input_messages.2.message.contents.0.message_content.text": "from contents",
        "llm.input_messages.x.message.role": "user",
        "llm.other": "ignored",
    }
    assert text.indexed_messages(attrs, "llm.input_messages.", "message.") == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "from contents"},
        {"role": "user", "content": "tenth"},
    ]


def test_indexed_messages_openllmetry() -> None:
    attrs = {
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "hello",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "be nice",
        "gen_ai.prompt.1.tool_calls.0.name": "ignored",
    }
    messages = text.indexed_messages(attrs, "gen_ai.prompt.", "")
    assert messages == [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello"}]
    assert text.user_messages(messages) == "hello"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('{"args": [], "kwargs": {"message": "hi there"}}', "hi there", id="kwargs-message"),
        pytest.param('{"args": [], "kwargs": {"query": "q", "limit": 3}}', "q", id="kwargs-query"),
        pytest.param('{"args": ["only arg"], "kwargs": {}}', "only arg", id="single-string-arg"),
        pytest.param('{"args": ["a", "b"], "kwargs": {}}', '{"args": ["a", "b"], "kwargs": {}}', id="ambiguous"),
        pytest.param('{"args": [], "kwargs": {"whatever": "w"}}', "w", id="single-kwarg"),
        pytest.param(
            '{"messages": [{"role": "user", "content": "m1"}, {"role": "user", "content": "m2"}], "n": 1}',
            "m2",
            id="messages",
        ),
        pytest.param('"quoted \\"text\\""', 'quoted "text"', id="json-string-decoded"),
        pytest.param('""', '""', id="empty-json-string-kept"),
        pytest.param('"unterminated', '"unterminated', id="invalid-json-string-kept"),
        pytest.param("plain", "plain", id="plain"),
    ],
)
def test_entity_text(value: str, expected: str) -> None:
    assert text.entity_text(value) == expected


def test_text_nested_past_the_encoders_limit_is_absent() -> None:
    deep = text.parse_json("[" * 300 + "]" * 300)
    assert deep is not None
    assert text.as_text(deep) is None
    assert text.user_messages([{"role": "user", "content": deep}]) is None


@pytest.mark.parametrize("role", [["user"], {"r": "user"}, 5, None])
def test_roles_that_are_not_text_match_nothing(role: Any) -> None:
    assert text.user_messages([{"role": role, "content": "hi"}]) is None
    assert text.user_messages({"role": role, "content": "hi"}) is None
