"""Every row of docs/conventions.md's "Concepts" table, and its general rules, on hand-built spans.

The key lists below are copied from docs/conventions.md on purpose (not imported from ``semconv``): a change of
precedence in the code that the contract does not make fails here.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from threadline.server.ingest.normalize import as_float, as_int, category, first_id, first_str, normalize
from unit.spans import event, facts, span

SESSION_KEYS = [
    "threadline.session.id",
    "session.id",
    "langfuse.session.id",
    "gen_ai.conversation.id",
    "ag.session.id",
    "traceloop.association.properties.session_id",
    "conversation.session_id",
    "session_id",
    "langfuse.trace.metadata.langfuse_session_id",
    "langfuse.observation.metadata.langfuse_session_id",
    "ai.telemetry.metadata.sessionId",
    "$ai_session_id",
]
USER_KEYS = [
    "user.id",
    "langfuse.user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "user_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "ai.telemetry.metadata.userId",
]
RESPONSE_MODEL_KEYS = ["gen_ai.response.model", "llm.response.model_name"]
REQUEST_MODEL_KEYS = [
    "gen_ai.request.model",
    "llm.model_name",
    "llm.request.model_name",
    "langfuse.observation.model.name",
    "embedding.model_name",
    "ai.model.id",
    "model",
]
PROVIDER_KEYS = ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"]
INPUT_TOKEN_KEYS = [
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
]
OUTPUT_TOKEN_KEYS = [
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
]
CACHE_READ_KEYS = [
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
]
CACHE_WRITE_KEYS = [
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
]
REASONING_KEYS = [
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
]
TURN_KEYS = ["conversation.turn_number", "turn.number"]
SCRUBBED = "[Scrubbed due to 'session']"


def _positions(keys: list[str]) -> list[Any]:
    return [pytest.param(i, id=key) for i, key in enumerate(keys)]


def _from(keys: list[str], start: int, values: list[Any] | None = None) -> dict[str, Any]:
    """Every key from ``start`` on, each with its own value: the first of them must win."""
    return {key: (values[i] if values else f"v{i}") for i, key in enumerate(keys) if i >= start}


# --- primitive readers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12, 12, id="int"),
        pytest.param(12.0, 12, id="double"),
        pytest.param(12.9, 12, id="double-truncated"),
        pytest.param("12", 12, id="decimal-string"),
        pytest.param("12.0", 12, id="decimal-string-with-point"),
        pytest.param("", None, id="empty-string"),
        pytest.param("twelve", None, id="not-a-number"),
        pytest.param(True, None, id="bool-is-not-a-number"),
        pytest.param(float("nan"), None, id="nan"),
        pytest.param(None, None, id="none"),
        pytest.param([12], None, id="array"),
    ],
)
def test_as_int(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0.25, 0.25, id="double"),
        pytest.param(2, 2.0, id="int"),
        pytest.param("0.0015", 0.0015, id="decimal-string"),
        pytest.param("", None, id="empty"),
        pytest.param("x", None, id="text"),
        pytest.param(False, None, id="bool"),
    ],
)
def test_as_float(value: Any, expected: float | None) -> None:
    assert as_float(value) == expected


def test_first_str_skips_empty_and_stringifies() -> None:
    assert first_str({"a": "", "b": 7}, ("a", "b")) == "7"
    assert first_str({"a": ["x"]}, ("a",)) == '["x"]'
    assert first_str({"a": ""}, ("a", "b")) is None


def test_first_id_skips_scrubbed_and_strips() -> None:
    assert first_id({"a": SCRUBBED, "b": " s1 "}, ("a", "b")) == "s1"
    assert first_id({"a": "   "}, ("a",)) is None


# --- session / user / conversation / turn ---------------------------------------------------------


@pytest.mark.parametrize("position", _positions(SESSION_KEYS))
def test_session_id_precedence(position: int) -> None:
    assert facts(_from(SESSION_KEYS, position)).session_id == f"v{position}"


@pytest.mark.parametrize("position", _positions(SESSION_KEYS))
def test_session_id_empty_string_is_absent(position: int) -> None:
    attrs = {SESSION_KEYS[position]: "", "$ai_session_id": "fallback"}
    if SESSION_KEYS[position] == "$ai_session_id":
        attrs["$ai_session_id"] = ""
        assert facts(attrs).session_id is None
    else:
        assert facts(attrs).session_id == "fallback"


@pytest.mark.parametrize(
    ("attrs", "scope", "resource", "expected"),
    [
        pytest.param({"session.id": "span"}, {"session.id": "scope"}, {"session.id": "res"}, "span", id="span-first"),
        pytest.param({}, {"session.id": "scope"}, {"session.id": "res"}, "scope", id="then-scope"),
        pytest.param({}, {"langfuse.session.id": "scope"}, {}, "scope", id="scope-any-key"),
        pytest.param({}, {}, {"session.id": "res"}, "res", id="then-resource"),
        pytest.param({"session.id": ""}, {}, {"session.id": "res"}, "res", id="empty-span-value-falls-back"),
        pytest.param({}, {}, {"langfuse.session.id": "res"}, None, id="resource-only-session-id"),
        pytest.param({}, {}, {}, None, id="none"),
    ],
)
def test_session_id_scope_then_resource(
    attrs: dict[str, Any], scope: dict[str, Any], resource: dict[str, Any], expected: str | None
) -> None:
    assert facts(attrs, scope=scope, resource=resource).session_id == expected


@pytest.mark.parametrize(
    ("attrs", "resource", "expected"),
    [
        pytest.param({"session_id": SCRUBBED}, {}, None, id="scrubbed-is-no-value"),
        pytest.param({"session_id": SCRUBBED, "$ai_session_id": "next"}, {}, "next", id="next-key"),
        pytest.param({"session_id": SCRUBBED}, {"session.id": "res"}, "res", id="resource"),
        pytest.param(
            {"session_id": SCRUBBED, "logfire.scrubbed": '[{"path": ["attributes", "session_id"]}]'},
            {},
            None,
            id="with-logfire-scrubbed-list",
        ),
    ],
)
def test_logfire_scrubbed_session_id_ignored(
    attrs: dict[str, Any], resource: dict[str, Any], expected: str | None
) -> None:
    assert facts(attrs, resource=resource).session_id == expected


def test_scrubbed_user_id_ignored() -> None:
    assert facts({"user_id": "[Scrubbed due to 'user']"}).user_id is None


@pytest.mark.parametrize("position", _positions(USER_KEYS))
def test_user_id_precedence(position: int) -> None:
    assert facts(_from(USER_KEYS, position)).user_id == f"v{position}"


@pytest.mark.parametrize(
    ("attrs", "scope", "resource", "expected"),
    [
        pytest.param({"user.id": "span"}, {"user.id": "scope"}, {"user.id": "res"}, "span", id="span-first"),
        pytest.param({}, {"user.id": "scope"}, {"user.id": "res"}, "scope", id="then-scope"),
        pytest.param({}, {}, {"enduser.id": "res"}, "res", id="then-resource"),
        pytest.param({"user.id": ""}, {}, {}, None, id="empty-is-absent"),
    ],
)
def test_user_id_scope_then_resource(
    attrs: dict[str, Any], scope: dict[str, Any], resource: dict[str, Any], expected: str | None
) -> None:
    assert facts(attrs, scope=scope, resource=resource).user_id == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"conversation.id": "c1", "gen_ai.conversation.id": "g1"}, "c1", id="conversation-id-first"),
        pytest.param({"gen_ai.conversation.id": "g1", "session.id": "s1"}, "g1", id="genai-with-other-session-key"),
        pytest.param({"gen_ai.conversation.id": "g1"}, None, id="genai-alone-is-the-session"),
        pytest.param({"session.id": "s1"}, None, id="else-session-id-at-turn-level"),
        pytest.param({"conversation.id": ""}, None, id="empty"),
    ],
)
def test_conversation_id(attrs: dict[str, Any], expected: str | None) -> None:
    result = facts(attrs)
    assert result.conversation_id == expected
    if "gen_ai.conversation.id" in attrs and len(attrs) == 1:
        assert result.session_id == "g1"


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"conversation.turn_number": 3, "turn.number": 9}, 3, id="conversation-turn-number-first"),
        pytest.param({"turn.number": 4}, 4, id="turn-number"),
        pytest.param({"turn.number": "5"}, 5, id="decimal-string"),
        pytest.param({"turn.number": 6.0}, 6, id="double"),
        pytest.param({"conversation.turn_number": "", "turn.number": 7}, 7, id="empty-falls-through"),
        pytest.param({}, None, id="absent-derived-later"),
    ],
)
def test_turn_number(attrs: dict[str, Any], expected: int | None) -> None:
    assert facts(attrs).turn_number == expected


# --- category ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "name", "expected"),
    [
        # rule 1: langfuse.observation.type
        pytest.param({"langfuse.observation.type": "generation"}, "x", "llm", id="1-langfuse-generation"),
        pytest.param({"langfuse.observation.type": "agent"}, "x", "agent", id="1-langfuse-agent"),
        pytest.param({"langfuse.observation.type": "tool"}, "x", "tool", id="1-langfuse-tool"),
        pytest.param({"langfuse.observation.type": "retriever"}, "x", "retrieval", id="1-langfuse-retriever"),
        pytest.param({"langfuse.observation.type": "span", "gen_ai.request.model": "m"}, "x", "other", id="1-span"),
        pytest.param(
            {"langfuse.observation.type": "generation", "openinference.span.kind": "TOOL"},
            "x",
            "llm",
            id="1-beats-2",
        ),
        # rule 2: openinference.span.kind
        pytest.param({"openinference.span.kind": "LLM"}, "x", "llm", id="2-oi-llm"),
        pytest.param({"openinference.span.kind": "AGENT"}, "x", "agent", id="2-oi-agent"),
        pytest.param({"openinference.span.kind": "TOOL"}, "x", "tool", id="2-oi-tool"),
        pytest.param({"openinference.span.kind": "RETRIEVER"}, "x", "retrieval", id="2-oi-retriever"),
        pytest.param({"openinference.span.kind": "CHAIN", "llm.model_name": "m"}, "x", "other", id="2-oi-chain"),
        pytest.param(
            {"openinference.span.kind": "LLM", "gen_ai.operation.name": "execute_tool"}, "x", "llm", id="2-beats-3"
        ),
        # rule 3: gen_ai.operation.name
        *[
            pytest.param({"gen_ai.operation.name": op}, "x", cat, id=f"3-{op}")
            for op, cat in [
                ("chat", "llm"),
                ("text_completion", "llm"),
                ("generate_content", "llm"),
                ("completion", "llm"),
                ("generate", "llm"),
                ("invoke_agent", "agent"),
                ("create_agent", "agent"),
                ("execute_tool", "tool"),
                ("retrieval", "retrieval"),
            ]
        ],
        pytest.param({"gen_ai.operation.name": "chat", "traceloop.span.kind": "tool"}, "x", "llm", id="3-beats-4"),
        pytest.param(
            {"gen_ai.operation.name": "embeddings", "traceloop.span.kind": "tool"}, "x", "tool", id="3-unknown-op"
        ),
        # rule 4: traceloop.span.kind and llm.request.type
        pytest.param({"traceloop.span.kind": "agent"}, "x", "agent", id="4-traceloop-agent"),
        pytest.param({"traceloop.span.kind": "tool"}, "x", "tool", id="4-traceloop-tool"),
        pytest.param({"traceloop.span.kind": "workflow", "gen_ai.tool.name": "t"}, "x", "tool", id="4-workflow"),
        pytest.param({"llm.request.type": "chat"}, "x", "llm", id="4-request-chat"),
        pytest.param({"llm.request.type": "completion"}, "x", "llm", id="4-request-completion"),
        pytest.param({"traceloop.span.kind": "tool", "gen_ai.tool.call.id": "c"}, "chat x", "tool", id="4-beats-5"),
        # rule 5: tool keys
        pytest.param({"gen_ai.tool.name": "get_weather"}, "chat x", "tool", id="5-genai-tool-name"),
        pytest.param({"gen_ai.tool.call.id": "call_1"}, "x", "tool", id="5-tool-call-id"),
        pytest.param({"tool.name": "search"}, "x", "tool", id="5-tool-name"),
        pytest.param({"tool.name": "", "gen_ai.request.model": "m"}, "x", "llm", id="5-empty-is-absent"),
        # rule 6: span name prefix, only on a span that also carries a gen_ai.* attribute
        pytest.param({"gen_ai.agent.name": "planner"}, "invoke_agent planner", "agent", id="6-invoke-agent"),
        pytest.param({"gen_ai.system": "openai"}, "execute_tool get_weather", "tool", id="6-execute-tool"),
        pytest.param({"gen_ai.request.model": "m"}, "chat gpt-4o", "llm", id="6-chat"),
        pytest.param({"gen_ai.request.model": "m"}, "invoke_agent x", "agent", id="6-beats-7"),
        pytest.param({}, "chatter", "other", id="6-needs-the-space"),
        # rule 7: any model key present
        *[pytest.param({key: "m"}, "x", "llm", id=f"7-{key}") for key in RESPONSE_MODEL_KEYS + REQUEST_MODEL_KEYS],
        pytest.param({"gen_ai.request.model": ""}, "x", "other", id="7-empty-model"),
        # else other; never agent from gen_ai.agent.name alone
        pytest.param({}, "x", "other", id="other"),
        pytest.param({"gen_ai.agent.name": "planner"}, "x", "other", id="agent-name-alone-is-not-agent"),
        pytest.param({"gen_ai.agent.name": "planner", "gen_ai.request.model": "m"}, "x", "llm", id="agent-name-llm"),
        pytest.param({"gen_ai.agent.name": "planner", "tool.name": "t"}, "x", "tool", id="agent-name-tool"),
        # Threadline's own SDK names its kind before all of them
        pytest.param({"threadline.span.kind": "tool", "langfuse.observation.type": "agent"}, "x", "tool", id="sdk"),
        pytest.param({"threadline.span.kind": "turn", "gen_ai.request.model": "m"}, "x", "other", id="sdk-turn"),
    ],
)
def test_category_rules_in_order(attrs: dict[str, Any], name: str, expected: str) -> None:
    assert category(attrs, name) == expected
    assert facts(attrs, name=name).category == expected


_APP_OWN = {"session.id": "s1", "input.value": "hi", "logfire.span_type": "span"}


@pytest.mark.parametrize(
    ("name", "genai", "expected"),
    [
        pytest.param("chat turn 3", {"gen_ai.system": "openai"}, "llm", id="chat"),
        pytest.param("invoke_agent planner", {"gen_ai.agent.name": "planner"}, "agent", id="invoke-agent"),
        pytest.param("execute_tool get_weather", {"gen_ai.conversation.id": "c1"}, "tool", id="execute-tool"),
    ],
)
def test_name_prefix_counts_only_with_a_genai_attribute(name: str, genai: dict[str, Any], expected: str) -> None:
    """Category rule 6: an application's own span named "chat turn 3" is not an LLM call."""
    assert category(_APP_OWN, name) == "other"
    assert facts(_APP_OWN, name=name).category == "other"
    assert category({**_APP_OWN, "gen_ai.system": ""}, name) == "other"  # empty counts as absent
    assert category({**_APP_OWN, **genai}, name) == expected
    assert facts({**_APP_OWN, **genai}, name=name).category == expected


# --- model / provider ----------------------------------------------------------------------------


@pytest.mark.parametrize("position", _positions(REQUEST_MODEL_KEYS))
def test_request_model_precedence(position: int) -> None:
    result = facts(_from(REQUEST_MODEL_KEYS, position))
    assert (result.request_model, result.model) == (f"v{position}", f"v{position}")


@pytest.mark.parametrize("position", _positions(RESPONSE_MODEL_KEYS))
def test_response_model_kept_apart_from_request_model(position: int) -> None:
    attrs = _from(RESPONSE_MODEL_KEYS, position) | {"gen_ai.request.model": "gpt-4o-mini"}
    result = facts(attrs)
    assert result.model == f"v{position}"
    assert result.request_model == "gpt-4o-mini"


@pytest.mark.parametrize("position", _positions(PROVIDER_KEYS))
def test_provider_precedence(position: int) -> None:
    assert facts(_from(PROVIDER_KEYS, position)).provider == f"v{position}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("openai", "openai"),
        ("OpenAI", "openai"),
        (" anthropic ", "anthropic"),
        ("az.ai.openai", "azure"),
        ("azure.ai.openai", "azure"),
        ("azure.ai.inference", "azure"),
        ("aws.bedrock", "aws"),
        ("bedrock", "aws"),
        ("gcp.vertex_ai", "google"),
        ("gcp.gemini", "google"),
        ("gcp.gen_ai", "google"),
        ("vertex_ai", "google"),
        ("gemini", "google"),
        ("mistral_ai", "mistral"),
        ("mistralai", "mistral"),
        ("x_ai", "x-ai"),
        ("xai", "x-ai"),
        ("together_ai", "together"),
        ("fireworks_ai", "fireworks"),
        ("groq", "groq"),
    ],
)
def test_provider_aliases(raw: str, expected: str) -> None:
    assert facts({"gen_ai.system": raw}).provider == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("api.openai.com", "openai"),
        ("my-resource.openai.azure.com", "azure"),
        ("api.anthropic.com", "anthropic"),
        ("generativelanguage.googleapis.com", "google"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "aws"),
        ("api.mistral.ai", "mistral"),
        ("api.groq.com", "groq"),
        ("api.x.ai", "x-ai"),
        ("api.deepseek.com", "deepseek"),
        ("openrouter.ai", "openrouter"),
        ("127.0.0.1", None),
        ("localhost", None),
    ],
)
def test_provider_inferred_from_server_address(address: str, expected: str | None) -> None:
    result = facts({"server.address": address, "gen_ai.request.model": "m"})
    assert result.provider == expected


def test_provider_key_beats_server_address() -> None:
    assert facts({"gen_ai.system": "openai", "server.address": "api.anthropic.com"}).provider == "openai"


# --- tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        pytest.param(INPUT_TOKEN_KEYS, "input_tokens", id="input"),
        pytest.param(OUTPUT_TOKEN_KEYS, "output_tokens", id="output"),
        pytest.param(CACHE_READ_KEYS, "cache_read_tokens", id="cache-read"),
        pytest.param(CACHE_WRITE_KEYS, "cache_write_tokens", id="cache-write"),
        pytest.param(REASONING_KEYS, "reasoning_tokens", id="reasoning"),
    ],
)
def test_token_key_precedence(keys: list[str], field: str) -> None:
    for position in range(len(keys)):
        values = [100 + i for i in range(len(keys))]
        assert getattr(facts(_from(keys, position, values)), field) == 100 + position, keys[position]


@pytest.mark.parametrize(
    "value",
    [pytest.param(42, id="int"), pytest.param(42.0, id="double"), pytest.param("42", id="decimal-string")],
)
@pytest.mark.parametrize("key", INPUT_TOKEN_KEYS + OUTPUT_TOKEN_KEYS + CACHE_READ_KEYS)
def test_token_numbers_in_any_shape(key: str, value: Any) -> None:
    result = facts({key: value})
    assert 42 in (result.input_tokens, result.output_tokens, result.cache_read_tokens)


def test_token_empty_string_falls_through() -> None:
    result = facts({"gen_ai.usage.input_tokens": "", "llm.token_count.prompt": 5})
    assert result.input_tokens == 5


def test_two_conventions_on_one_span_are_never_summed() -> None:
    """OpenInference with its GenAI option writes both: one source per concept (conventions, general rule 8)."""
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.token_count.prompt": 120,
        "llm.token_count.completion": 30,
        "llm.token_count.prompt_details.cache_read": 20,
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 20,
        "langfuse.observation.usage_details": '{"input": 100, "output": 30}',
    }
    result = facts(attrs)
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (120, 30, 20)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        pytest.param(
            {"input": 100, "output": 20},
            (100, 20, None, None, None),
            id="input-output",
        ),
        pytest.param(
            {"input": 70, "output": 20, "cache_read_input_tokens": 30},
            (100, 20, 30, None, None),
            id="input-excludes-cache-read-added-back",
        ),
        pytest.param(
            {"input": 60, "output": 20, "input_cached_tokens": 30, "cache_creation_input_tokens": 10},
            (100, 20, 30, 10, None),
            id="input-excludes-cache-read-and-write",
        ),
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            (100, 20, None, None, None),
            id="v5-prompt-tokens-include-cache",
        ),
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 20, "cache_read_input_tokens": 30},
            (100, 20, 30, None, None),
            id="v5-prompt-tokens-not-added-twice",
        ),
        pytest.param(
            {"input": 10, "output": 50, "output_reasoning_tokens": 40},
            (10, 50, None, None, 40),
            id="reasoning",
        ),
        pytest.param({"input": "10", "output": "5"}, (10, 5, None, None, None), id="numbers-as-strings"),
        pytest.param(
            {"input": 36, "output": 9, "input_cache_read": 64, "input_cache_creation": 0},
            (100, 9, 64, 0, None),
            id="langfuse-anthropic-keys",
        ),
        pytest.param(
            {"input": 100, "output": 9, "input_cached_tokens": 0},
            (100, 9, 0, None, None),
            id="zero-cache-is-a-value",
        ),
        # langfuse.openai sends OpenAI's usage object as is (seen with langfuse 5.0.4):
        pytest.param(
            {
                "completion_tokens": 10,
                "prompt_tokens": 89,
                "total_tokens": 99,
                "completion_tokens_details": {"audio_tokens": 0, "reasoning_tokens": 3},
                "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 64},
            },
            (89, 10, 64, None, 3),
            id="langfuse-openai-chat-usage-nested-details",
        ),
        pytest.param(
            {
                "input_tokens": 89,
                "output_tokens": 10,
                "input_tokens_details": {"cached_tokens": 64},
                "output_tokens_details": {"reasoning_tokens": 4},
            },
            (89, 10, 64, None, 4),
            id="openai-responses-usage-includes-cache",
        ),
        pytest.param(
            {"input_tokens": 25, "output_tokens": 10, "cache_read_input_tokens": 64, "cache_creation_input_tokens": 11},
            (100, 10, 64, 11, None),
            id="anthropic-usage-excludes-cache",
        ),
        pytest.param({"total": 5}, (None, None, None, None, None), id="total-only"),
    ],
)
@pytest.mark.parametrize("encoding", ["json-string", "kvlist"])
def test_langfuse_usage_details(details: dict[str, Any], expected: tuple[int | None, ...], encoding: str) -> None:
    value: Any = orjson.dumps(details).decode() if encoding == "json-string" else details
    result = facts({"langfuse.observation.type": "generation", "langfuse.observation.usage_details": value})
    got = (
        result.input_tokens,
        result.output_tokens,
        result.cache_read_tokens,
        result.cache_write_tokens,
        result.reasoning_tokens,
    )
    assert got == expected


# Logfire's OpenAI instrumentation (seen with logfire 5.2.0): usage attributes plus the raw usage object,
# the only place the cached tokens appear.
LOGFIRE_RAW_USAGE = (
    '{"completion_tokens":12,"prompt_tokens":69,"total_tokens":81,'
    '"completion_tokens_details":{"audio_tokens":0,"reasoning_tokens":2},'
    '"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":64}}'
)


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param(
            {
                "gen_ai.usage.input_tokens": 69,
                "gen_ai.usage.output_tokens": 12,
                "gen_ai.usage.raw": LOGFIRE_RAW_USAGE,
            },
            (69, 12, 64, None, 2),
            id="logfire-openai-raw-usage",
        ),
        pytest.param(
            {
                "gen_ai.usage.input_tokens": 69,
                "gen_ai.usage.cache_read.input_tokens": 60,
                "gen_ai.usage.raw": LOGFIRE_RAW_USAGE,
            },
            (69, None, 60, None, None),
            id="cache-attribute-wins-over-raw",
        ),
        pytest.param(
            {
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.raw": '{"input_tokens":25,"cache_read_input_tokens":64,"cache_creation_input_tokens":11}',
            },
            (100, None, 64, 11, None),
            id="anthropic-raw-usage",
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.raw": "not json"}, (5, None, None, None, None), id="bad-raw"
        ),
        pytest.param({"gen_ai.usage.raw": LOGFIRE_RAW_USAGE}, (None, None, None, None, None), id="raw-alone-ignored"),
    ],
)
def test_raw_usage_details(attrs: dict[str, Any], expected: tuple[int | None, ...]) -> None:
    result = facts(attrs)
    got = (
        result.input_tokens,
        result.output_tokens,
        result.cache_read_tokens,
        result.cache_write_tokens,
        result.reasoning_tokens,
    )
    assert got == expected


@pytest.mark.parametrize("value", ["not json", "[1, 2]", "", "{}"], ids=["text", "array", "empty", "empty-object"])
def test_langfuse_usage_details_unusable(value: str) -> None:
    result = facts({"langfuse.observation.usage_details": value})
    assert (result.input_tokens, result.output_tokens) == (None, None)


BAD_COUNTS = [
    pytest.param(float("inf"), id="infinity"),
    pytest.param(float("-inf"), id="minus-infinity"),
    pytest.param(float("nan"), id="nan"),
    pytest.param("Infinity", id="infinity-text"),
    pytest.param("NaN", id="nan-text"),
    pytest.param(1e300, id="1e300"),
    pytest.param(-5, id="negative"),
    pytest.param("-5", id="negative-text"),
    pytest.param(10**10 + 1, id="over-1e10"),
    pytest.param(5 * 10**18, id="5e18"),
    pytest.param(2**63 - 1, id="int64-max"),
    pytest.param("9" * 5000, id="5000-digits"),
    pytest.param(2.5, id="fraction"),
    pytest.param("2.5", id="fraction-text"),
    pytest.param([5], id="array"),
    pytest.param({"n": 5}, id="map"),
]


@pytest.mark.parametrize("value", BAD_COUNTS)
@pytest.mark.parametrize(
    "key", INPUT_TOKEN_KEYS + OUTPUT_TOKEN_KEYS + CACHE_READ_KEYS + CACHE_WRITE_KEYS + REASONING_KEYS
)
def test_bad_token_counts_are_ignored(key: str, value: Any) -> None:
    result = facts({key: value, "gen_ai.request.model": "gpt-4o-mini"})
    counts = (
        result.input_tokens,
        result.output_tokens,
        result.cache_read_tokens,
        result.cache_write_tokens,
        result.reasoning_tokens,
    )
    assert counts == (None,) * 5


@pytest.mark.parametrize("value", BAD_COUNTS)
def test_bad_token_count_falls_through_to_the_next_key(value: Any) -> None:
    assert facts({"gen_ai.usage.input_tokens": value, "llm.token_count.prompt": 7}).input_tokens == 7


@pytest.mark.parametrize("value", [0, 10**10, "10000000000", 1e10, "1e3"])
def test_token_counts_up_to_1e10_count(value: Any) -> None:
    assert facts({"gen_ai.usage.output_tokens": value}).output_tokens == int(float(value))


@pytest.mark.parametrize(
    "details",
    [
        '{"input": Infinity, "output": NaN}',
        '{"input": 1e300, "output": -5, "reasoning_tokens": 2.5, "input_cache_read": 99999999999999999999}',
        '{"prompt_tokens": "Infinity", "completion_tokens": -1, "prompt_tokens_details": {"cached_tokens": -3}}',
        '{"input_tokens": 18446744073709551615, "output_tokens": [1], "cache_read_input_tokens": 1e400}',
        {"input": float("inf"), "output": float("nan"), "input_cache_read": -1},
    ],
)
def test_bad_langfuse_usage_details_are_ignored(details: Any) -> None:
    result = facts({"langfuse.observation.usage_details": details})
    counts = (
        result.input_tokens,
        result.output_tokens,
        result.cache_read_tokens,
        result.cache_write_tokens,
        result.reasoning_tokens,
    )
    assert counts == (None,) * 5


def test_langfuse_usage_sum_past_the_bound_is_ignored() -> None:
    """Langfuse's "input" excludes the cache: added back, the total must still be a believable count."""
    details = {"input": 10**10, "output": 3, "input_cache_read": 10**10}
    result = facts({"langfuse.observation.usage_details": details})
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (None, 3, 10**10)


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"threadline.cost.usd": float("inf"), "llm.cost.total": 0.2}, 0.2, id="infinity"),
        pytest.param({"threadline.cost.usd": float("nan"), "llm.cost.total": 0.2}, 0.2, id="nan"),
        pytest.param({"threadline.cost.usd": "Infinity", "gen_ai.usage.cost": 0.4}, 0.4, id="infinity-text"),
        pytest.param({"threadline.cost.usd": 1e300}, None, id="1e300"),
        pytest.param({"threadline.cost.usd": 1e6 + 1}, None, id="over-a-million"),
        pytest.param({"threadline.cost.usd": 1e6}, 1e6, id="a-million"),
        pytest.param(
            {"langfuse.observation.cost_details": '{"total": 1e400}', "operation.cost": 0.5}, 0.5, id="lf-inf"
        ),
        pytest.param({"langfuse.observation.cost_details": {"total": -1}}, None, id="lf-negative"),
        pytest.param({"gen_ai.usage.cost": 2**64}, None, id="huge-int"),
        pytest.param({"operation.cost": "-0.5"}, None, id="negative-text"),
    ],
)
def test_bad_costs_are_ignored(attrs: dict[str, Any], expected: float | None) -> None:
    assert facts(attrs).cost_usd == expected


@pytest.mark.parametrize(
    "value", [float("inf"), float("nan"), -1, 10**9 + 1, 2**63, 1e300, "Infinity", 2.5, [3]], ids=repr
)
def test_bad_turn_numbers_are_ignored(value: Any) -> None:
    assert facts({"conversation.turn_number": value, "turn.number": 4}).turn_number == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(float("inf"), None, id="inf"),
        pytest.param(1e300, None, id="1e300"),
        pytest.param(2**63, None, id="past-int64"),
        pytest.param(-(2**63), -(2**63), id="int64-min"),
        pytest.param("9223372036854775807", 2**63 - 1, id="int64-max-exact"),
        pytest.param("1e3", 1000, id="exponent-text"),
        pytest.param("9" * 5000, None, id="5000-digits"),
    ],
)
def test_as_int_stays_within_int64(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "Infinity", "nan", "1e400", 2**1100])
def test_as_float_is_finite_or_absent(value: Any) -> None:
    assert as_float(value) is None


# --- cost ----------------------------------------------------------------------------------------

COST_KEYS = ["threadline.cost.usd", "llm.cost.total", "langfuse.observation.cost_details", "gen_ai.usage.cost"]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param(
            {
                "threadline.cost.usd": 0.1,
                "llm.cost.total": 0.2,
                "langfuse.observation.cost_details": '{"total": 0.3}',
                "gen_ai.usage.cost": 0.4,
                "operation.cost": 0.5,
            },
            0.1,
            id="threadline-first",
        ),
        pytest.param(
            {"llm.cost.total": 0.2, "langfuse.observation.cost_details": '{"total": 0.3}', "gen_ai.usage.cost": 0.4},
            0.2,
            id="llm-cost-total",
        ),
        pytest.param(
            {"langfuse.observation.cost_details": '{"input": 0.1, "output": 0.2, "total": 0.3}', "operation.cost": 0.5},
            0.3,
            id="langfuse-cost-details-total",
        ),
        pytest.param({"langfuse.observation.cost_details": {"total": 0.3}}, 0.3, id="langfuse-kvlist"),
        pytest.param(
            {"langfuse.observation.cost_details": '{"input": 0.1}', "gen_ai.usage.cost": 0.4},
            0.4,
            id="langfuse-without-total-falls-through",
        ),
        pytest.param({"gen_ai.usage.cost": "0.0015"}, 0.0015, id="decimal-string"),
        pytest.param({"operation.cost": 0.5}, 0.5, id="operation-cost"),
        pytest.param({"threadline.cost.usd": 0}, 0.0, id="zero-is-a-value"),
        pytest.param({"threadline.cost.usd": -1, "llm.cost.total": 0.2}, 0.2, id="negative-ignored"),
        pytest.param({"threadline.cost.usd": ""}, None, id="empty"),
        pytest.param({}, None, id="none"),
    ],
)
def test_cost(attrs: dict[str, Any], expected: float | None) -> None:
    result = facts(attrs)
    assert result.cost_usd == expected
    assert result.cost_source == ("given" if expected is not None else None)


# --- text ----------------------------------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You are a weather bot."}
USER = {"role": "user", "content": "Weather in Paris?"}
ANSWER = {"role": "assistant", "content": "Sunny, 21°C."}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"input.value": "plain question"}, "plain question", id="input-value-text"),
        pytest.param(
            {"input.value": _json({"messages": [SYSTEM, USER], "model": "m"})},
            "Weather in Paris?",
            id="input-value-openai-body",
        ),
        pytest.param(
            {
                "gen_ai.input.messages": _json([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
                "gen_ai.system_instructions": _json([{"type": "text", "content": "be terse"}]),
            },
            "hi",
            id="genai-input-messages-not-system-instructions",
        ),
        pytest.param(
            {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "kv"}]}]},
            "kv",
            id="genai-input-messages-array",
        ),
        pytest.param(
            {
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "sys",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "oi user",
            },
            "oi user",
            id="openinference-flattened",
        ),
        pytest.param(
            {
                "gen_ai.prompt.0.role": "system",
                "gen_ai.prompt.0.content": "sys",
                "gen_ai.prompt.1.role": "user",
                "gen_ai.prompt.1.content": "first",
                "gen_ai.prompt.2.role": "assistant",
                "gen_ai.prompt.2.content": "reply",
                "gen_ai.prompt.3.role": "user",
                "gen_ai.prompt.3.content": "last user",
            },
            "last user",
            id="openllmetry-flattened-last-user",
        ),
        pytest.param({"langfuse.observation.input": _json([SYSTEM, USER])}, "Weather in Paris?", id="langfuse-list"),
        pytest.param({"langfuse.observation.input": '"a json string"'}, '"a json string"', id="langfuse-json-string"),
        pytest.param({"langfuse.observation.input": "raw"}, "raw", id="langfuse-raw"),
        pytest.param(
            {"traceloop.entity.input": _json({"args": [], "kwargs": {"message": "entity in"}})},
            "entity in",
            id="traceloop-entity",
        ),
        pytest.param({"gen_ai.tool.call.arguments": '{"city": "Paris"}'}, '{"city": "Paris"}', id="tool-arguments"),
        pytest.param({"gen_ai.tool.call.arguments": {"city": "Paris"}}, '{"city":"Paris"}', id="tool-arguments-kv"),
        pytest.param({"input.value": "", "langfuse.observation.input": "next"}, "next", id="empty-falls-through"),
        pytest.param(
            {"input.value": "oi", "gen_ai.input.messages": _json([USER]), "traceloop.entity.input": "tl"},
            "oi",
            id="input-value-first",
        ),
        pytest.param({"gen_ai.input.messages": _json([SYSTEM])}, None, id="system-prompt-is-never-the-input"),
        pytest.param({}, None, id="none"),
    ],
)
def test_input_text(attrs: dict[str, Any], expected: str | None) -> None:
    assert facts(attrs).input_text == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        pytest.param({"output.value": "plain answer"}, "plain answer", id="output-value-text"),
        pytest.param(
            {"output.value": _json({"choices": [{"index": 0, "message": ANSWER}]})},
            "Sunny, 21°C.",
            id="output-value-openai-body",
        ),
        pytest.param(
            {
                "gen_ai.output.messages": _json(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "out"}], "finish_reason": "stop"}]
                )
            },
            "out",
            id="genai-output-messages",
        ),
        pytest.param(
            {
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "oi answer",
            },
            "oi answer",
            id="openinference-flattened",
        ),
        pytest.param(
            {"gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "ll answer"},
            "ll answer",
            id="openllmetry-flattened",
        ),
        pytest.param({"langfuse.observation.output": _json(ANSWER)}, "Sunny, 21°C.", id="langfuse-message"),
        pytest.param({"langfuse.observation.output": "raw out"}, "raw out", id="langfuse-raw"),
        pytest.param({"traceloop.entity.output": '"done"'}, "done", id="traceloop-entity-json-string"),
        pytest.param(
            {"traceloop.entity.output": '{"answer": 42}'}, '{"answer": 42}', id="traceloop-entity-json-object"
        ),
        pytest.param({"gen_ai.tool.call.result": "21°C"}, "21°C", id="tool-result"),
        pytest.param(
            {"output.value": "first", "gen_ai.output.messages": _json([ANSWER])}, "first", id="output-value-first"
        ),
        pytest.param({}, None, id="none"),
    ],
)
def test_output_text(attrs: dict[str, Any], expected: str | None) -> None:
    assert facts(attrs).output_text == expected


def test_output_is_the_final_assistant_message() -> None:
    messages = [ANSWER, {"role": "assistant", "content": "final"}]
    assert facts({"gen_ai.output.messages": _json(messages)}).output_text == "final"


@pytest.mark.parametrize(
    ("events", "expected_in", "expected_out"),
    [
        pytest.param(
            [
                event(
                    "gen_ai.client.inference.operation.details",
                    **{
                        "gen_ai.input.messages": _json(
                            [
                                {"role": "system", "parts": [{"type": "text", "content": "sys"}]},
                                {"role": "user", "parts": [{"type": "text", "content": "ev in"}]},
                            ]
                        ),
                        "gen_ai.output.messages": _json(
                            [{"role": "assistant", "parts": [{"type": "text", "content": "ev out"}]}]
                        ),
                    },
                )
            ],
            "ev in",
            "ev out",
            id="inference-operation-details",
        ),
        pytest.param(
            [
                event("gen_ai.system.message", content="sys"),
                event("gen_ai.user.message", content="legacy in"),
                event("gen_ai.choice", index=0, finish_reason="stop", message={"role": "assistant", "content": "c"}),
            ],
            "legacy in",
            "c",
            id="legacy-user-message-and-choice",
        ),
        pytest.param(
            [
                event("gen_ai.user.message", content="old"),
                event("gen_ai.user.message", content="newest"),
                event("gen_ai.choice", message=_json({"role": "assistant", "content": "json choice"})),
            ],
            "newest",
            "json choice",
            id="last-user-message-and-json-choice",
        ),
        pytest.param(
            [event("gen_ai.choice", content="content attribute")],
            None,
            "content attribute",
            id="choice-content-attribute",
        ),
        pytest.param(
            [
                event("gen_ai.choice", message={"role": "assistant", "content": "text answer"}),
                event("gen_ai.choice", message={"role": "assistant", "tool_calls": [{"id": "c1"}]}),
            ],
            None,
            "text answer",
            id="tool-call-choice-keeps-text-answer",
        ),
        pytest.param(
            [
                event("gen_ai.content.prompt", **{"gen_ai.prompt": "old prompt"}),
                event("gen_ai.content.completion", **{"gen_ai.completion": "old completion"}),
            ],
            "old prompt",
            "old completion",
            id="content-prompt-and-completion",
        ),
        pytest.param([event("exception", **{"exception.message": "x"})], None, None, id="unrelated-event"),
    ],
)
def test_text_from_events(events: list[Any], expected_in: str | None, expected_out: str | None) -> None:
    result = facts({}, events=events)
    assert (result.input_text, result.output_text) == (expected_in, expected_out)


def test_attribute_text_beats_event_text() -> None:
    result = facts(
        {"gen_ai.input.messages": _json([USER]), "gen_ai.output.messages": _json([ANSWER])},
        events=[event("gen_ai.user.message", content="ev"), event("gen_ai.choice", content="ev")],
    )
    assert (result.input_text, result.output_text) == ("Weather in Paris?", "Sunny, 21°C.")


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "kwargs", "expected"),
    [
        pytest.param({}, {}, (False, None, None), id="ok"),
        pytest.param({}, {"status": 1}, (False, None, None), id="status-ok"),
        pytest.param({}, {"status": 2, "status_message": "boom"}, (True, None, "boom"), id="status-error"),
        pytest.param({}, {"status": 2}, (True, None, None), id="status-error-no-message"),
        pytest.param({"error.type": "429"}, {}, (True, "429", "429"), id="error-type"),
        pytest.param(
            {"error.type": "BadRequestError"},
            {"status": 2, "status_message": "Error code: 400"},
            (True, "BadRequestError", "Error code: 400"),
            id="status-and-error-type",
        ),
        pytest.param(
            {},
            {
                "status": 2,
                "events": [
                    event(
                        "exception",
                        **{
                            "exception.type": "openai.InternalServerError",
                            "exception.message": "Error code: 500",
                            "exception.stacktrace": "Traceback...",
                        },
                    )
                ],
            },
            (True, "openai.InternalServerError", "Error code: 500"),
            id="exception-event",
        ),
        pytest.param(
            {"langfuse.observation.level": "ERROR", "langfuse.observation.status_message": "provider said no"},
            {},
            (True, None, "provider said no"),
            id="langfuse-level-error",
        ),
        pytest.param({"langfuse.observation.level": "WARNING"}, {}, (False, None, None), id="langfuse-warning"),
        pytest.param({"error.type": ""}, {}, (False, None, None), id="empty-error-type"),
    ],
)
def test_errors(attrs: dict[str, Any], kwargs: dict[str, Any], expected: tuple[Any, ...]) -> None:
    result = facts(attrs, **kwargs)
    assert (result.error, result.error_type, result.error_message) == expected


# --- tool name, log spans, session events, seed vocabulary ---------------------------------------


@pytest.mark.parametrize(
    ("attrs", "name", "expected"),
    [
        pytest.param(
            {"gen_ai.tool.name": "a", "tool.name": "b", "traceloop.entity.name": "c"}, "x", "a", id="genai-first"
        ),
        pytest.param({"tool.name": "b", "traceloop.entity.name": "c"}, "x", "b", id="tool-name"),
        pytest.param({"traceloop.span.kind": "tool", "traceloop.entity.name": "c"}, "x", "c", id="traceloop-entity"),
        pytest.param({"openinference.span.kind": "TOOL"}, "get_weather", "get_weather", id="span-name"),
        pytest.param({"traceloop.entity.name": "c"}, "x", None, id="not-a-tool-span"),
    ],
)
def test_tool_name(attrs: dict[str, Any], name: str, expected: str | None) -> None:
    assert facts(attrs, name=name).tool_name == expected


def test_logfire_log_span_reports_usage_without_being_a_call() -> None:
    attrs = {
        "logfire.span_type": "log",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
    }
    result = facts(attrs, name="streaming response from 'gpt-4o-mini' took 1.2s")
    assert result.is_log
    assert (result.category, result.input_tokens, result.output_tokens) == ("llm", 11, 7)
    assert not facts({"logfire.span_type": "span"}).is_log


def test_session_event() -> None:
    assert facts({"threadline.span.kind": "session_event", "session.id": "s"}).is_event
    assert not facts({"threadline.span.kind": "turn"}).is_event


def test_seed_vocabulary_collected() -> None:
    attrs = {
        "session.id": "s",
        "session.channel": "web",
        "user.id": "u",
        "user.tier": "pro",
        "user.org_id": "o",
        "conversation.topic": "weather",
        "turn.input_type": "question",
        "context.limit": 128000,
        "journey.stage": "checkout",
        "dropoff.detected": True,
        "gen_ai.request.model": "m",
    }
    seed = facts(attrs).seed
    assert seed == {k: v for k, v in attrs.items() if k not in ("user.id", "gen_ai.request.model")}


def test_openinference_llm_span_end_to_end() -> None:
    """The exact shape ``openinference-instrumentation-openai`` writes for a chat call."""
    attrs = {
        "openinference.span.kind": "LLM",
        "session.id": "sess-1",
        "user.id": "alice",
        "llm.provider": "openai",
        "llm.system": "openai",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.invocation_parameters": '{"model": "gpt-4o-mini"}',
        "input.value": _json({"messages": [SYSTEM, USER], "model": "gpt-4o-mini"}),
        "input.mime_type": "application/json",
        "output.value": _json({"choices": [{"message": ANSWER}], "usage": {"prompt_tokens": 20}}),
        "output.mime_type": "application/json",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": SYSTEM["content"],
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": USER["content"],
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": ANSWER["content"],
        "llm.token_count.prompt": 20,
        "llm.token_count.completion": 6,
        "llm.token_count.total": 26,
    }
    result = normalize(span(attrs, name="ChatCompletion"))
    assert result.category == "llm"
    assert (result.session_id, result.user_id) == ("sess-1", "alice")
    assert (result.model, result.provider) == ("gpt-4o-mini-2024-07-18", "openai")
    assert (result.input_tokens, result.output_tokens) == (20, 6)
    assert (result.input_text, result.output_text) == ("Weather in Paris?", "Sunny, 21°C.")
