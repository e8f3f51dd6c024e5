"""A raw span's attributes, in any convention, to ``SpanFacts`` (docs/conventions.md, "Concepts").

Pure: no I/O, no clock, no pricing (cost computation happens later, in ``intelligence.pricing``).
Precedence follows docs/conventions.md: span attributes, then scope, then resource; within a concept the first
key present wins, and each concept takes exactly one source per span (never the sum of two).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from operator import methodcaller
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest import text
from threadline.server.ingest.records import Category, RawSpan, SpanFacts, StatusCode

_SCRUBBED_PREFIX = "[Scrubbed due to "
SESSION_EVENT = "session_event"
"""``threadline.span.kind`` of a root span that records something about a session (its end, feedback,
a journey stage) without being a turn."""
_SEED_PREFIXES = (
    "session.",
    "user.tier",
    "user.org_id",
    "conversation.",
    "turn.",
    "context.",
    "journey.",
    "dropoff.",
)

_LANGFUSE_TYPES: dict[str, Category] = {
    "generation": "llm",
    "agent": "agent",
    "tool": "tool",
    "retriever": "retrieval",
}
_OPENINFERENCE_KINDS: dict[str, Category] = {
    "llm": "llm",
    "agent": "agent",
    "tool": "tool",
    "retriever": "retrieval",
}
_GENAI_OPERATIONS: dict[str, Category] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "generate": "llm",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "execute_tool": "tool",
    "retrieval": "retrieval",
}
_TRACELOOP_KINDS: dict[str, Category] = {"agent": "agent", "tool": "tool"}
_LLM_REQUEST_TYPES: dict[str, Category] = {"chat": "llm", "completion": "llm"}
_THREADLINE_KINDS: dict[str, Category] = {
    "turn": "other",
    "agent": "agent",
    "llm": "llm",
    "tool": "tool",
    "retrieval": "retrieval",
}
_NAME_PREFIXES: tuple[tuple[str, Category], ...] = (
    ("invoke_agent", "agent"),
    ("execute_tool", "tool"),
    ("chat ", "llm"),
)
_NAME_PREFIX_STRINGS = tuple(prefix for prefix, _ in _NAME_PREFIXES)
_GEN_AI_PREFIX = "gen_ai."
_MODEL_KEYS = sc.RESPONSE_MODEL_KEYS + sc.REQUEST_MODEL_KEYS
_PROVIDER_ALIASES = {
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure.ai.inference": "azure",
    "azure_openai": "azure",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "gemini": "google",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
}
_PROVIDER_HOSTS: tuple[tuple[str, str], ...] = (
    (".openai.azure.com", "azure"),
    (".azure.com", "azure"),
    ("api.openai.com", "openai"),
    ("api.anthropic.com", "anthropic"),
    (".googleapis.com", "google"),
    (".amazonaws.com", "aws"),
    ("api.mistral.ai", "mistral"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x-ai"),
    ("api.deepseek.com", "deepseek"),
    ("openrouter.ai", "openrouter"),
    ("api.together.xyz", "together"),
    ("api.fireworks.ai", "fireworks"),
    ("api.cohere.com", "cohere"),
    ("api.cohere.ai", "cohere"),
    ("api.perplexity.ai", "perplexity"),
)
"""``server.address`` suffixes of well-known provider endpoints (conventions: provider "else inferred")."""


def normalize(span: RawSpan, *, texts: bool = True) -> SpanFacts:
    """Everything Threadline needs to know about one span.

    With ``texts=False`` the input and output text are left for ``resolve_texts`` (they are the
    expensive part, and a turn usually takes its text from the root span alone).
    """
    attrs = span.attributes
    facts = SpanFacts(category=category(attrs, span.name))
    facts.session_id = _session_id(span)
    facts.user_id = _identity(span, sc.USER_ID_KEYS, sc.USER_ID_KEYS)
    facts.conversation_id = _conversation_id(attrs)
    facts.turn_number = turn_number_of(attrs)
    facts.request_model = first_str(attrs, sc.REQUEST_MODEL_KEYS)
    facts.model = first_str(attrs, sc.RESPONSE_MODEL_KEYS) or facts.request_model
    facts.provider = provider(attrs)
    _read_usage(attrs, facts)
    _read_cost(attrs, facts)
    _read_error(span, facts)
    if facts.category == "tool":
        facts.tool_name = first_str(attrs, sc.TOOL_NAME_KEYS) or span.name or None
    if texts:
        facts.input_text = input_text(span)
        facts.output_text = output_text(span)
    else:
        facts.texts_pending = True
    facts.is_log = attrs.get("logfire.span_type") == "log"
    facts.is_event = attrs.get(sc.THREADLINE_SPAN_KIND) == SESSION_EVENT
    facts.seed = {k: v for k, v in attrs.items() if k.startswith(_SEED_PREFIXES)}
    return facts


# --- primitive readers ---------------------------------------------------------------------------


def first_str(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first present, non-empty value among ``keys``, as text."""
    if attrs.keys().isdisjoint(keys):  # the common case, checked in C
        return None
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return text.as_text(value)
    return None


def first_id(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """Like ``first_str``, skipping values a client-side scrubber replaced (conventions, general rule 6)."""
    if attrs.keys().isdisjoint(keys):
        return None
    for key in keys:
        value = attrs.get(key)
        if value is None or value == "":
            continue
        value_text = text.as_text(value)
        if value_text and not value_text.startswith(_SCRUBBED_PREFIX):
            return value_text.strip() or None
    return None


MAX_TOKENS = 10**10
"""The largest token count believed (per span, per kind); anything larger, negative or fractional is ignored."""
MAX_COST_USD = 1e6
"""The largest cost believed for one span."""
MAX_TURN_NUMBER = 10**9
_INT64 = 2**63


def as_int(value: Any) -> int | None:
    """Ints, doubles and decimal strings (OTLP/JSON) as an int64 ``int``; anything else is absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and -_INT64 <= value < _INT64 else None
    if isinstance(value, str) and value:
        try:
            return as_int(int(value))
        except ValueError:
            return as_int(as_float(value))
    return None


def as_float(value: Any) -> float | None:
    """Finite numbers (ints, doubles, decimal strings) as ``float``; anything else is absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str) and value != "":
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    return None


def as_count(value: Any, limit: int = MAX_TOKENS) -> int | None:
    """A whole number in [0, ``limit``] (ints, whole doubles, decimal strings); anything else is absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= limit else None
    if isinstance(value, float) and value.is_integer():
        return as_count(int(value), limit)
    if isinstance(value, str) and value:
        try:
            return as_count(int(value), limit)
        except ValueError:
            return as_count(as_float(value), limit)
    return None


def turn_number_of(attrs: Mapping[str, Any]) -> int | None:
    """The declared turn number: a whole number in [0, ``MAX_TURN_NUMBER``]."""
    if attrs.keys().isdisjoint(sc.TURN_NUMBER_KEYS):
        return None
    for key in sc.TURN_NUMBER_KEYS:
        number = as_count(attrs.get(key), MAX_TURN_NUMBER)
        if number is not None:
            return number
    return None


def _first_count(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    if attrs.keys().isdisjoint(keys):
        return None
    for key in keys:
        number = as_count(attrs.get(key))
        if number is not None:
            return number
    return None


def _json_object(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        doc = text.parse_json(value)
        return doc if isinstance(doc, Mapping) else None
    return None


# --- concepts ------------------------------------------------------------------------------------


def _session_id(span: RawSpan) -> str | None:
    return _identity(span, sc.SESSION_ID_KEYS, sc.RESOURCE_SESSION_ID_KEYS)


def _identity(span: RawSpan, keys: tuple[str, ...], resource_keys: tuple[str, ...]) -> str | None:
    """Span attributes, then the scope's, then the resource's (conventions, general rule 1)."""
    found = first_id(span.attributes, keys)
    if found is None and span.scope.attributes:  # usually empty: skip the lookups
        found = first_id(span.scope.attributes, keys)
    if found is None and span.resource.attributes:
        found = first_id(span.resource.attributes, resource_keys)
    return found


def _conversation_id(attrs: Mapping[str, Any]) -> str | None:
    explicit = first_id(attrs, (sc.CONVERSATION_ID,))
    if explicit:
        return explicit
    genai = first_id(attrs, (sc.GEN_AI_CONVERSATION_ID,))
    if genai is None:
        return None
    # gen_ai.conversation.id names a conversation only when another key names the session.
    other_keys = tuple(k for k in sc.SESSION_ID_KEYS if k != sc.GEN_AI_CONVERSATION_ID)
    return genai if first_id(attrs, other_keys) else None


_EXPLICIT_KINDS: tuple[tuple[str, Mapping[str, Category]], ...] = (
    (sc.THREADLINE_SPAN_KIND, _THREADLINE_KINDS),
    ("langfuse.observation.type", _LANGFUSE_TYPES),
    ("openinference.span.kind", _OPENINFERENCE_KINDS),
)
_EXPLICIT_KIND_KEYS = tuple(key for key, _ in _EXPLICIT_KINDS)


def category(attrs: Mapping[str, Any], name: str) -> Category:
    """agent / llm / tool / retrieval / other, by the ordered rules of docs/conventions.md."""
    for key, table in _EXPLICIT_KINDS if not attrs.keys().isdisjoint(_EXPLICIT_KIND_KEYS) else ():
        value = attrs.get(key)
        if isinstance(value, str) and value:
            # A framework that names its span kind has decided; unknown kinds (chain, span...) are "other".
            return table.get(value.lower(), "other")
    for key, table in (
        (sc.GEN_AI_OPERATION_NAME, _GENAI_OPERATIONS),
        ("traceloop.span.kind", _TRACELOOP_KINDS),
        ("llm.request.type", _LLM_REQUEST_TYPES),
    ):
        value = attrs.get(key)
        if isinstance(value, str) and value.lower() in table:
            return table[value.lower()]
    if any(attrs.get(k) not in (None, "") for k in (sc.GEN_AI_TOOL_NAME, sc.GEN_AI_TOOL_CALL_ID, "tool.name")):
        return "tool"
    named = _name_category(attrs, name)
    if named is not None:
        return named
    if any(attrs.get(k) not in (None, "") for k in _MODEL_KEYS):
        return "llm"
    return "other"


def _name_category(attrs: Mapping[str, Any], name: str) -> Category | None:
    """Category rule 6: a span-name prefix counts only on a span that also carries a ``gen_ai.*`` attribute.

    An application's own span named "chat turn 3" is not an LLM call.
    """
    if not name.startswith(_NAME_PREFIX_STRINGS):
        return None
    if not any(key.startswith(_GEN_AI_PREFIX) and value not in (None, "") for key, value in attrs.items()):
        return None
    return next(found for prefix, found in _NAME_PREFIXES if name.startswith(prefix))


def provider(attrs: Mapping[str, Any]) -> str | None:
    """The provider, with well-known aliases mapped to the ids the price data uses.

    Without a provider key, a well-known ``server.address`` names it (the model name is tried later,
    by the price data).
    """
    raw = first_str(attrs, sc.PROVIDER_KEYS)
    if raw is None:
        host = attrs.get("server.address")
        if isinstance(host, str) and host:
            host = host.lower()
            for suffix, found in _PROVIDER_HOSTS:
                if host.endswith(suffix):
                    return found
        return None
    lowered = raw.strip().lower()
    return _PROVIDER_ALIASES.get(lowered, lowered)


def _read_usage(attrs: Mapping[str, Any], facts: SpanFacts) -> None:
    facts.input_tokens = _first_count(attrs, sc.INPUT_TOKEN_KEYS)
    facts.output_tokens = _first_count(attrs, sc.OUTPUT_TOKEN_KEYS)
    facts.cache_read_tokens = _first_count(attrs, sc.CACHE_READ_TOKEN_KEYS)
    facts.cache_write_tokens = _first_count(attrs, sc.CACHE_WRITE_TOKEN_KEYS)
    facts.reasoning_tokens = _first_count(attrs, sc.REASONING_TOKEN_KEYS)
    if facts.input_tokens is None and facts.output_tokens is None:
        details = _json_object(attrs.get(sc.LANGFUSE_USAGE_DETAILS))
        if details:
            _read_langfuse_usage(details, facts)
    elif facts.cache_read_tokens is None and _RAW_USAGE in attrs:
        _read_raw_usage_details(attrs[_RAW_USAGE], facts)


_RAW_USAGE = "gen_ai.usage.raw"
"""Logfire's copy of the provider's usage object (JSON): the only place it reports cached tokens."""


def _read_raw_usage_details(value: Any, facts: SpanFacts) -> None:
    """Cache and reasoning details from a provider usage object (OpenAI chat or Responses, Anthropic)."""
    raw = _json_object(value)
    if not raw:
        return
    prompt = _json_object(raw.get("prompt_tokens_details") or raw.get("input_tokens_details")) or {}
    completion = _json_object(raw.get("completion_tokens_details") or raw.get("output_tokens_details")) or {}
    cached = as_count(prompt.get("cached_tokens"))
    facts.cache_read_tokens = cached if cached is not None else as_count(raw.get("cache_read_input_tokens"))
    if facts.cache_write_tokens is None:
        facts.cache_write_tokens = as_count(raw.get("cache_creation_input_tokens"))
    if facts.reasoning_tokens is None:
        facts.reasoning_tokens = as_count(completion.get("reasoning_tokens"))


_LF_CACHE_READ = ("cache_read_input_tokens", "input_cached_tokens", "input_cache_read")
_LF_CACHE_WRITE = ("cache_creation_input_tokens", "input_cache_creation")
_LF_REASONING = ("reasoning_tokens", "output_reasoning_tokens")


def _read_langfuse_usage(details: Mapping[str, Any], facts: SpanFacts) -> None:
    """``langfuse.observation.usage_details``, in every shape Langfuse's SDKs and integrations send.

    - Langfuse's own keys: ``input`` (cached tokens excluded), ``output``, ``input_cached_tokens`` /
      ``cache_read_input_tokens`` / ``input_cache_read``, ``input_cache_creation``...
    - OpenAI's chat usage as is (``langfuse.openai``): ``prompt_tokens`` (cache included),
      ``completion_tokens``, ``prompt_tokens_details.cached_tokens``, ``completion_tokens_details``.
    - ``input_tokens`` / ``output_tokens``: OpenAI's Responses API (cache included, with
      ``input_tokens_details``) or Anthropic's (cache excluded, with ``cache_read_input_tokens``).
    """
    prompt_details = _json_object(details.get("prompt_tokens_details") or details.get("input_tokens_details")) or {}
    completion_details = (
        _json_object(details.get("completion_tokens_details") or details.get("output_tokens_details")) or {}
    )
    cache_read = _first_count(details, _LF_CACHE_READ)
    if cache_read is None:
        cache_read = as_count(prompt_details.get("cached_tokens"))
    cache_write = _first_count(details, _LF_CACHE_WRITE)
    if "prompt_tokens" in details or "completion_tokens" in details:
        facts.input_tokens = as_count(details.get("prompt_tokens"))
        facts.output_tokens = as_count(details.get("completion_tokens"))
    elif "input_tokens" in details or "output_tokens" in details:
        given = as_count(details.get("input_tokens"))
        includes_cache = "input_tokens_details" in details
        if given is not None and not includes_cache:
            given = as_count(given + (cache_read or 0) + (cache_write or 0))
        facts.input_tokens = given
        facts.output_tokens = as_count(details.get("output_tokens"))
    else:
        uncached = as_count(details.get("input"))
        # Langfuse's "input" excludes cached tokens; "input tokens" here always includes them.
        if uncached is not None:
            facts.input_tokens = as_count(uncached + (cache_read or 0) + (cache_write or 0))
        facts.output_tokens = as_count(details.get("output"))
    if facts.cache_read_tokens is None:
        facts.cache_read_tokens = cache_read
    if facts.cache_write_tokens is None:
        facts.cache_write_tokens = cache_write
    if facts.reasoning_tokens is None:
        reasoning = _first_count(details, _LF_REASONING)
        facts.reasoning_tokens = (
            reasoning if reasoning is not None else as_count(completion_details.get("reasoning_tokens"))
        )


def _read_cost(attrs: Mapping[str, Any], facts: SpanFacts) -> None:
    for key in sc.COST_KEYS:
        value = attrs.get(key)
        if value is None or value == "":
            continue
        if key == sc.LANGFUSE_COST_DETAILS:
            details = _json_object(value)
            cost = as_float(details.get("total")) if details else None
        else:
            cost = as_float(value)
        if cost is not None and 0 <= cost <= MAX_COST_USD:
            facts.cost_usd = cost
            facts.cost_source = "given"
            return


def _read_error(span: RawSpan, facts: SpanFacts) -> None:
    attrs = span.attributes
    error_type = first_str(attrs, (sc.ERROR_TYPE,))
    message = span.status_message or None
    for event in span.events:
        if event.name == "exception":
            error_type = error_type or text.as_text(event.attributes.get("exception.type"))
            message = message or text.as_text(event.attributes.get("exception.message"))
            break
    langfuse_error = attrs.get("langfuse.observation.level") == "ERROR"
    if langfuse_error:
        message = message or first_str(attrs, ("langfuse.observation.status_message",))
    facts.error = span.status_code == StatusCode.ERROR or langfuse_error or error_type is not None
    if facts.error:
        facts.error_type = error_type
        facts.error_message = message or error_type


# --- text ----------------------------------------------------------------------------------------


def resolve_texts(span: RawSpan, facts: SpanFacts) -> None:
    """Fill in the texts ``normalize(span, texts=False)`` left out."""
    if facts.texts_pending:
        facts.input_text = input_text(span)
        facts.output_text = output_text(span)
        facts.texts_pending = False


def input_text(span: RawSpan) -> str | None:
    """What the user said to this span (the last user message, never the system prompt)."""
    attrs = span.attributes
    value = attrs.get(sc.INPUT_VALUE)
    if isinstance(value, str) and value:
        return text.user_text_from_json(value)
    value = attrs.get(sc.GEN_AI_INPUT_MESSAGES)
    if value:
        found = text.user_messages(text.parse_json(value) if isinstance(value, str) else value)
        if found:
            return found
    for prefix, suffix in (("llm.input_messages.", "message."), ("gen_ai.prompt.", "")):
        if _has_prefix(attrs, prefix):
            found = text.user_messages(text.indexed_messages(attrs, prefix, suffix))
            if found:
                return found
    value = attrs.get("langfuse.observation.input")
    if value:
        return _loose_user_text(value)
    value = attrs.get("traceloop.entity.input")
    if isinstance(value, str) and value:
        return text.entity_text(value)
    value = attrs.get(sc.GEN_AI_TOOL_CALL_ARGUMENTS)
    if value not in (None, ""):
        return text.as_text(value)
    return _event_text(span, input_side=True)


def output_text(span: RawSpan) -> str | None:
    """The assistant's final answer (or a tool's result) on this span."""
    attrs = span.attributes
    value = attrs.get(sc.OUTPUT_VALUE)
    if isinstance(value, str) and value:
        return text.assistant_text_from_json(value)
    value = attrs.get(sc.GEN_AI_OUTPUT_MESSAGES)
    if value:
        found = text.assistant_messages(text.parse_json(value) if isinstance(value, str) else value)
        if found:
            return found
    for prefix, suffix in (("llm.output_messages.", "message."), ("gen_ai.completion.", "")):
        if _has_prefix(attrs, prefix):
            found = text.assistant_messages(text.indexed_messages(attrs, prefix, suffix))
            if found:
                return found
    value = attrs.get("langfuse.observation.output")
    if value:
        return _loose_assistant_text(value)
    value = attrs.get("traceloop.entity.output")
    if isinstance(value, str) and value:
        return text.entity_text(value)
    value = attrs.get(sc.GEN_AI_TOOL_CALL_RESULT) or attrs.get("tool.result")
    if value not in (None, ""):
        return text.as_text(value)
    return _event_text(span, input_side=False)


def _has_prefix(attrs: Mapping[str, Any], prefix: str) -> bool:
    return any(map(methodcaller("startswith", prefix), attrs))


def _loose_user_text(value: Any) -> str | None:
    if isinstance(value, str):
        return text.user_text_from_json(value)
    return text.user_messages(value) or text.as_text(value)


def _loose_assistant_text(value: Any) -> str | None:
    if isinstance(value, str):
        return text.assistant_text_from_json(value)
    return text.assistant_messages(value) or text.as_text(value)


def _event_text(span: RawSpan, *, input_side: bool) -> str | None:
    """Prompts and answers some instrumentations put on span events (or on GenAI log records)."""
    found: str | None = None
    for event in span.events:
        attrs = event.attributes
        name = event.name
        if name == "gen_ai.client.inference.operation.details":
            key = sc.GEN_AI_INPUT_MESSAGES if input_side else sc.GEN_AI_OUTPUT_MESSAGES
            value = attrs.get(key)
            messages = text.parse_json(value) if isinstance(value, str) else value
            found = (text.user_messages if input_side else text.assistant_messages)(messages) or found
        elif input_side and name == "gen_ai.user.message":
            found = _event_content(attrs) or found
        elif input_side and name == "gen_ai.content.prompt":
            found = text.as_text(attrs.get("gen_ai.prompt")) or found
        elif not input_side and name == "gen_ai.choice":
            message = attrs.get("message")
            parsed = text.parse_json(message) if isinstance(message, str) else message
            answer = text.message_content(parsed) if parsed is not None else _event_content(attrs)
            found = answer or found
        elif not input_side and name == "gen_ai.content.completion":
            found = text.as_text(attrs.get("gen_ai.completion")) or found
    return found


def _event_content(attrs: Mapping[str, Any]) -> str | None:
    content = attrs.get("content")
    if isinstance(content, str):
        return content or None
    if content is not None:
        return text.message_content({"content": content})
    return None
