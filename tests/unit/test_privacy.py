"""Privacy at ingest (docs/conventions.md, "Privacy at ingest"): every rule on hand-built spans, the text fields of
every convention, and the real corpus payloads decoded with the real decoders."""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import threadline
from support.corpus import FOLDERS, expected_user_id, manifest, trace_requests
from threadline import semconv as sc
from threadline._sdk.ids import looks_hashed
from threadline.server.ingest.decode import decode_json, decode_protobuf
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.privacy import (
    DEFAULT_MAX_CHARS,
    DROPPED,
    PATTERN_MARK,
    SECRET_KINDS,
    Privacy,
    _plan,
    protect,
    protect_log_events,
    redact_secrets,
    validate_patterns,
)
from threadline.server.ingest.records import RawSpan, Resource
from threadline.server.settings import Settings
from threadline.server.store.base import Project
from unit.spans import event, span

EMAIL = "maria.rossi@example.com"
OPENAI_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
PHRASE = "the blue lighthouse on pier nine"
TEXT = f"Please book {PHRASE}; write to {EMAIL}, my key is {OPENAI_KEY}."
SALT = "pepper"
TRUNCATED_MARK = re.compile(r"…\[truncated by policy: \d+ more characters\]$", re.MULTILINE)
USER_KEYS = [
    "user.id",
    "langfuse.user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "user_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "ai.telemetry.metadata.userId",
]
"""docs/conventions.md's "user id" row, copied on purpose: a key the contract names must be hashed."""


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


def stored(s: RawSpan) -> list[str]:
    """Every string of a span that the store keeps."""
    maps = [s.attributes, s.resource.attributes, s.scope.attributes, *(e.attributes for e in s.events)]
    return [s.name, s.status_message, *(text for m in maps for text in strings(m))]


def everything(s: RawSpan) -> str:
    return "\n".join(stored(s))


def measures(s: RawSpan) -> tuple[Any, ...]:
    """What the content policy must never change: tokens, models, cost, category, tool, errors."""
    f = normalize(s)
    return (
        f.category,
        f.model,
        f.request_model,
        f.provider,
        f.input_tokens,
        f.output_tokens,
        f.cost_usd,
        f.tool_name,
        f.error,
        f.session_id,
    )


def protected(s: RawSpan, **policy: Any) -> RawSpan:
    protect([s], Privacy(**policy))
    return s


# --- the policy record ---------------------------------------------------------------------------------------


def test_of_reads_the_project_and_the_settings() -> None:
    project = Project(1, "p", 0, "truncated", 50, False, ("FR\\d+",))
    privacy = Privacy.of(project, Settings(hash_user_ids=True, user_id_salt=SALT))
    assert privacy == Privacy(True, SALT, "truncated", 50, False, ("FR\\d+",))
    assert Privacy.of(Project(2, "q", 0), Settings()) == Privacy()


def test_is_noop_only_when_nothing_is_asked_and_then_nothing_changes() -> None:
    assert Privacy(redact_secrets=False).is_noop
    assert not Privacy().is_noop  # redaction is on by default
    assert not Privacy(redact_secrets=False, hash_user_ids=True).is_noop
    assert not Privacy(redact_secrets=False, content_policy="none").is_noop
    assert not Privacy(redact_secrets=False, redact_patterns=("x+",)).is_noop
    s = span({"input.value": TEXT, "user.id": "alice"}, status_message=TEXT)
    before = everything(s)
    assert everything(protected(s, redact_secrets=False)) == before


def test_patterns_are_compiled_once_per_privacy_value() -> None:
    first = _plan(Privacy(redact_patterns=("a+b", "c+d")))
    assert _plan(Privacy(redact_patterns=["a+b", "c+d"])) is first  # type: ignore[arg-type]
    assert _plan(Privacy(redact_patterns=("a+b",))) is not first


# --- 1. user ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", USER_KEYS)
@pytest.mark.parametrize("where", ["span", "scope", "resource"])
def test_clear_user_ids_are_hashed_as_the_sdk_does(key: str, where: str) -> None:
    clear = {key: "alice@example.com"}
    s = span(
        clear if where == "span" else {},
        scope=clear if where == "scope" else {},
        resource=clear if where == "resource" else {},
    )
    protect([s], Privacy(hash_user_ids=True, user_id_salt=SALT))
    expected = threadline.hash_user_id("alice@example.com", salt=SALT)
    assert normalize(s).user_id == expected
    assert "alice" not in everything(s)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(threadline.hash_user_id("bob", salt="another"), id="sdk-hash"),
        pytest.param("0e7b8c3e3b7f94ed81538a568a6408c6", id="sha256-hex"),
        pytest.param("[Scrubbed due to 'user']", id="scrubbed"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
    ],
)
def test_values_already_hashed_or_no_value_are_left_alone(value: str) -> None:
    s = protected(span({"user.id": value}), hash_user_ids=True, user_id_salt=SALT)
    assert s.attributes["user.id"] == value


def test_a_number_is_hashed_as_its_text_like_the_sdk() -> None:
    s = protected(span({"user.id": 42}), hash_user_ids=True, user_id_salt=SALT)
    assert s.attributes["user.id"] == threadline.hash_user_id("42", salt=SALT)


def test_without_hashing_ids_are_kept_and_never_redacted() -> None:
    s = protected(span({"user.id": EMAIL, "session.id": EMAIL, "conversation.id": EMAIL, "turn.id": EMAIL}))
    assert set(s.attributes.values()) == {EMAIL}
    assert (normalize(s).user_id, normalize(s).session_id) == (EMAIL, EMAIL)


def test_ids_are_hashed_before_redaction() -> None:
    s = protected(span({"user.id": EMAIL, "input.value": EMAIL}), hash_user_ids=True, user_id_salt=SALT)
    assert s.attributes == {"user.id": threadline.hash_user_id(EMAIL, salt=SALT), "input.value": "[redacted:email]"}


# --- 2. content, in every convention ---------------------------------------------------------------------------------


def _genai_messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


MODEL = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30}
CONVENTIONS: dict[str, Callable[[], RawSpan]] = {
    "openinference-flattened": lambda: span(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.provider": "openai",
            "llm.token_count.prompt": 120,
            "llm.token_count.completion": 30,
            "llm.cost.total": 0.0042,
            "input.value": json.dumps({"messages": [{"role": "user", "content": TEXT}]}),
            "input.mime_type": "application/json",
            "output.value": TEXT,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": TEXT,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": TEXT,
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": json.dumps({"q": TEXT}),
        }
    ),
    "otel-genai-messages": lambda: span(
        {
            "gen_ai.operation.name": "chat",
            **MODEL,
            "gen_ai.usage.cost": 0.0042,
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": TEXT}]),
            "gen_ai.input.messages": _genai_messages("user", TEXT),
            "gen_ai.output.messages": _genai_messages("assistant", TEXT),
        }
    ),
    "otel-genai-messages-as-values": lambda: span(
        {
            "gen_ai.operation.name": "chat",
            **MODEL,
            "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": TEXT}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": TEXT}]}],
        }
    ),
    "otel-genai-events": lambda: span(
        {"gen_ai.operation.name": "chat", **MODEL},
        events=[
            event("gen_ai.system.message", content=TEXT),
            event("gen_ai.user.message", content=TEXT),
            event("gen_ai.assistant.message", content=TEXT, tool_calls=[{"function": {"arguments": TEXT}}]),
            event("gen_ai.tool.message", content=TEXT, id="call_1"),
            event("gen_ai.choice", index=0, finish_reason="stop", message=json.dumps({"content": TEXT})),
            event(
                "gen_ai.client.inference.operation.details",
                **{
                    "gen_ai.input.messages": _genai_messages("user", TEXT),
                    "gen_ai.output.messages": _genai_messages("assistant", TEXT),
                    "gen_ai.usage.input_tokens": 120,
                },
            ),
            event("gen_ai.content.prompt", **{"gen_ai.prompt": TEXT}),
            event("gen_ai.content.completion", **{"gen_ai.completion": TEXT}),
        ],
    ),
    "openllmetry": lambda: span(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 120,
            "gen_ai.usage.completion_tokens": 30,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": TEXT,
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": TEXT,
            "gen_ai.completion.0.tool_calls.0.arguments": json.dumps({"q": TEXT}),
        }
    ),
    "langfuse": lambda: span(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.usage_details": json.dumps({"input": 120, "output": 30}),
            "langfuse.observation.cost_details": json.dumps({"total": 0.0042}),
            "langfuse.observation.input": json.dumps([{"role": "user", "content": TEXT}]),
            "langfuse.observation.output": json.dumps({"role": "assistant", "content": TEXT}),
            "langfuse.trace.input": TEXT,
            "langfuse.trace.output": TEXT,
        }
    ),
    "traceloop-entity": lambda: span(
        {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "chat_turn",
            "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"user_message": TEXT}}),
            "traceloop.entity.output": json.dumps(TEXT),
            **MODEL,
        }
    ),
    "tool-arguments-and-results": lambda: span(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "book_hotel",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": json.dumps({"request": TEXT}),
            "gen_ai.tool.call.result": json.dumps({"confirmation": TEXT}),
            "tool.result": TEXT,
            "tool.parameters": json.dumps({"request": TEXT}),
        },
        name="execute_tool book_hotel",
    ),
}


def _json_values(s: RawSpan) -> list[str]:
    return [v for v in stored(s) if v[:1] in '[{"' and _parses(v)]


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_secrets_in_every_conventions_text_are_redacted(convention: str) -> None:
    s = CONVENTIONS[convention]()
    before, json_before = measures(s), len(_json_values(s))
    protect([s], Privacy())
    text = everything(s)
    assert EMAIL not in text
    assert OPENAI_KEY not in text
    assert "sk-proj" not in text
    assert "[redacted:email]" in text
    assert "[redacted:openai_key]" in text
    assert PHRASE in text  # the policy is full: the rest of the text is kept
    assert measures(s) == before
    assert len(_json_values(s)) == json_before  # redacted inside JSON text, which still parses


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_policy_none_drops_every_conventions_text_and_keeps_the_measures(convention: str) -> None:
    s = CONVENTIONS[convention]()
    before = measures(s)
    protect([s], Privacy(content_policy="none"))
    text = everything(s)
    assert PHRASE not in text
    assert "Please book" not in text
    assert EMAIL not in text
    assert DROPPED in text
    assert measures(s) == before
    facts = normalize(s)
    assert facts.input_text in (None, DROPPED)
    assert facts.output_text in (None, DROPPED)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_policy_truncated_cuts_every_conventions_text(convention: str) -> None:
    s = CONVENTIONS[convention]()
    before = measures(s)
    protect([s], Privacy(content_policy="truncated", content_max_chars=8, redact_secrets=False))
    assert PHRASE not in everything(s)
    assert TRUNCATED_MARK.search(everything(s))
    assert measures(s) == before


def test_truncated_keeps_the_beginning_and_says_how_much_was_cut() -> None:
    s = protected(
        span({"input.value": TEXT, "output.value": "short"}), content_policy="truncated", content_max_chars=11
    )
    assert s.attributes["input.value"] == f"Please book…[truncated by policy: {len(TEXT) - 11} more characters]"
    assert s.attributes["output.value"] == "short"
    default = protected(span({"input.value": "x" * 500}), content_policy="truncated")
    assert default.attributes["input.value"].startswith("x" * DEFAULT_MAX_CHARS + "…[truncated by policy: 300 ")


def test_a_structured_value_is_cut_as_one_json_text() -> None:
    messages = [{"role": "user", "content": "y" * 300}]
    s = protected(span({"gen_ai.input.messages": messages}), content_policy="truncated", content_max_chars=20)
    cut = s.attributes["gen_ai.input.messages"]
    assert cut.startswith(json.dumps(messages, separators=(",", ":"))[:20])
    assert TRUNCATED_MARK.search(cut)


def test_none_keeps_empty_values_descriptors_and_every_other_attribute() -> None:
    attrs = {
        "input.value": "",
        "input.mime_type": "text/plain",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": TEXT,
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12,
        "turn.input_length": 93,
        "conversation.topic": "travel",
        "session.id": "s1",
    }
    s = protected(span(attrs), content_policy="none", redact_secrets=False)
    assert s.attributes == {**attrs, "llm.input_messages.0.message.content": DROPPED}
    assert normalize(s).input_text == DROPPED  # a user message is still a user message, with a visible marker


def test_an_unknown_policy_keeps_no_content() -> None:
    s = protected(span({"input.value": TEXT}), content_policy="partial", redact_secrets=False)
    assert s.attributes["input.value"] == DROPPED


def test_content_on_events_only_counts_on_genai_events() -> None:
    s = protected(
        span(events=[event("gen_ai.user.message", content=TEXT), event("app.note", content="kept as is")]),
        content_policy="none",
        redact_secrets=False,
    )
    assert [e.attributes["content"] for e in s.events] == [DROPPED, "kept as is"]


def test_log_events_lose_their_text_and_keep_the_rest() -> None:
    trace, span_id = bytes(range(1, 17)), bytes(range(1, 9))
    events = [
        LogEvent(
            trace, span_id, 1, "gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"content": TEXT}}
        ),
        LogEvent(trace, span_id, 2, "gen_ai.user.message", {"content": TEXT, "user.id": "alice"}),
        LogEvent(
            trace,
            span_id,
            3,
            "gen_ai.client.inference.operation.details",
            {"gen_ai.input.messages": _genai_messages("user", TEXT), "gen_ai.usage.input_tokens": 7},
        ),
    ]
    protect_log_events(events, Privacy(content_policy="none", hash_user_ids=True, user_id_salt=SALT))
    assert [e.attributes for e in events] == [
        {"index": 0, "finish_reason": "stop", "message": DROPPED},
        {"content": DROPPED, "user.id": threadline.hash_user_id("alice", salt=SALT)},
        {"gen_ai.input.messages": DROPPED, "gen_ai.usage.input_tokens": 7},
    ]


def test_log_events_are_redacted() -> None:
    event_ = LogEvent(bytes(16), bytes(8), 1, "gen_ai.user.message", {"content": TEXT, "tool_calls": [{"a": TEXT}]})
    protect_log_events([event_], Privacy())
    text = json.dumps(event_.attributes)
    assert EMAIL not in text
    assert OPENAI_KEY not in text
    assert PHRASE in text


def test_content_is_cut_before_redaction_so_what_is_kept_is_redacted() -> None:
    value = "xxxxx " + OPENAI_KEY  # the cut falls inside the key, leaving more than a key's shortest length
    s = protected(span({"input.value": value}), content_policy="truncated", content_max_chars=32)
    assert s.attributes["input.value"].startswith("xxxxx [redacted:openai_key]…[truncated by policy: ")
    assert "sk-" not in s.attributes["input.value"]


# --- 3. redaction --------------------------------------------------------------------------------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = [
    ("email", EMAIL),
    ("email", "j.doe+travel@mail.example.co.uk"),
    ("openai_key", OPENAI_KEY),
    ("openai_key", "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4"),
    ("anthropic_key", "sk-ant-api03-" + "abcDEF123_-" * 8),
    ("aws_key", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_key", "ASIAY34FZKBOKMUTVV7A"),
    ("github_token", "ghp_" + "a1B2c3D4e5" * 4),
    ("github_token", "github_pat_11ABCDEFG0" + "abcdEFGH12" * 6),
    ("google_api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
    ("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("stripe_key", "sk_live_" + "51Hx" * 6),
    ("stripe_key", "rk_live_" + "51Hx" * 6),
    ("gitlab_token", "glpat-" + "x1Y2z3W4v5U6t7S8r9Q0"),
    ("huggingface_token", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1x2\nZm9vYmFy==\n-----END RSA PRIVATE KEY-----"),
    (
        "private_key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n-----END ENCRYPTED PRIVATE KEY-----",
    ),
]
KEPT = [
    ("bearer_token", "Authorization: Bearer ", "Zm9vYmFyLWJhei1xdXV4LTEyMzQ1Njc4OTA"),
    ("bearer_token", "authorization: bearer ", "0123456789abcdef0123456789abcdef"),
    ("bearer_token", '{"Authorization": "Bearer ', "Zm9vYmFyLWJhei1xdXV4LTEyMzQ1Njc4OTA"),
    ("aws_key", "aws_secret_access_key = ", AWS_SECRET),
    ("aws_key", "AWS_SECRET_ACCESS_KEY=", AWS_SECRET),
    ("aws_key", '{"SecretAccessKey": "', AWS_SECRET),
]
"""(kind, what names the secret and is kept, the secret)."""


def test_every_kind_of_secret_is_tested() -> None:
    assert {kind for kind, _ in SECRETS} | {kind for kind, _, _ in KEPT} == set(SECRET_KINDS)


@pytest.mark.parametrize(("kind", "secret"), SECRETS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param("{}", id="alone"),
        pytest.param("Here it is: {} - thanks.", id="in-a-sentence"),
        pytest.param("first line\n{}\nlast line", id="on-its-own-line"),
    ],
)
def test_each_secret_is_replaced_by_its_marker(kind: str, secret: str, wrap: str) -> None:
    text = wrap.format(secret)
    out = redact_secrets(text)
    assert out == text.replace(secret, f"[redacted:{kind}]")


@pytest.mark.parametrize(("kind", "secret"), SECRETS)
def test_secrets_in_json_text_are_redacted_and_the_json_still_parses(kind: str, secret: str) -> None:
    doc = [{"role": "user", "content": f"caf\u00e9\n{secret}\tthanks"}, {"k": secret}]
    out = redact_secrets(json.dumps(doc))
    assert json.loads(out) == [
        {"role": "user", "content": f"caf\u00e9\n[redacted:{kind}]\tthanks"},
        {"k": f"[redacted:{kind}]"},
    ]


@pytest.mark.parametrize(("kind", "kept", "secret"), KEPT)
def test_what_names_a_secret_is_kept_in_front_of_the_marker(kind: str, kept: str, secret: str) -> None:
    assert redact_secrets(f"{kept}{secret}") == f"{kept}[redacted:{kind}]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0B", "[redacted:private_key]", id="at-the-end"
        ),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN…[truncated by policy: 900 more characters]",
            "[redacted:private_key]…[truncated by policy: 900 more characters]",
            id="cut-by-policy",
        ),
        pytest.param(
            "key: -----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17\n\nMIIE and more",
            "key: [redacted:private_key] and more",
            id="legacy-encrypted",
        ),
    ],
)
def test_a_private_key_without_its_end_line_is_redacted_to_the_end_of_its_body(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "gpt-4o-mini",
        "claude-3-5-haiku-20241022",
        "risk-assessment-and-mitigation-plan-for-2025",
        "the bearer of bad news arrived",
        "a task-oriented agent",
        "@handle replied to user@localhost",
        "sess_0123456789abcdef and turn_4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "550e8400-e29b-41d4-a716-446655440000",
        "AKIA is not a key, nor is AIza on its own",
        "eyJhbGciOiJIUzI1NiJ9 alone is not a token",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "token_type: bearer",
        "ghp_short",
    ],
)
def test_no_false_positives_on_ordinary_text(text: str) -> None:
    assert redact_secrets(text) == text


def test_only_strings_are_redacted_at_any_depth_and_unchanged_values_are_kept_as_is() -> None:
    untouched = [{"n": 4242424242424242, "ok": True, "s": "nothing here"}]
    s = span(
        {
            "number": 4242424242424242,
            "nested": [{"deep": {"deeper": [EMAIL, 3.5]}}, "plain"],
            "untouched": untouched,
        }
    )
    protect([s], Privacy())
    assert s.attributes["number"] == 4242424242424242
    assert s.attributes["nested"] == [{"deep": {"deeper": ["[redacted:email]", 3.5]}}, "plain"]
    assert s.attributes["untouched"] is untouched


def test_names_status_messages_events_resource_and_scope_are_redacted() -> None:
    s = span(
        {"http.request.header.authorization": f"Bearer {OPENAI_KEY}"},
        name=f"notify {EMAIL}",
        status_message=f"401: invalid key {OPENAI_KEY}",
        events=[event("exception", **{"exception.message": f"no user {EMAIL}"})],
        resource={"service.owner": EMAIL},
        scope={"team.contact": EMAIL},
    )
    protect([s], Privacy())
    assert s.name == "notify [redacted:email]"
    assert s.status_message == "401: invalid key [redacted:openai_key]"
    assert s.attributes == {"http.request.header.authorization": "Bearer [redacted:openai_key]"}
    assert s.events[0].attributes == {"exception.message": "no user [redacted:email]"}
    assert (s.resource.attributes, s.scope.attributes) == (
        {"service.owner": "[redacted:email]"},
        {"team.contact": "[redacted:email]"},
    )


def test_a_resource_shared_by_spans_goes_through_once() -> None:
    resource = Resource({"input.value": "z" * 50, "user.id": "alice"})
    spans = [span(), span()]
    for s in spans:
        s.resource = resource
    protect(spans, Privacy(content_policy="truncated", content_max_chars=10, hash_user_ids=True))
    assert resource.attributes["input.value"] == "z" * 10 + "…[truncated by policy: 40 more characters]"
    assert resource.attributes["user.id"] == threadline.hash_user_id("alice", salt="")


# --- project patterns ----------------------------------------------------------------------------------------------

IBAN = r"FR\d{2}(?: ?\d{4}){5} ?\d{3}"


@pytest.mark.parametrize(
    "patterns",
    [
        pytest.param((IBAN,), id="one"),
        pytest.param((IBAN, r"ORD-\d{6}"), id="combined"),
        pytest.param((r"(FR)(\d{2})(?: ?\d{4}){5} ?\d{3}", r"(ORD)-\d{6}"), id="with-groups"),
        pytest.param(("(?i)fr\\d{2}(?: ?\\d{4}){5} ?\\d{3}", r"(?i)ord-\d{6}"), id="with-global-flags"),
        pytest.param(("(unclosed", IBAN, r"ORD-\d{6}"), id="an-invalid-one-is-skipped"),
        pytest.param(("x*", IBAN, r"ORD-\d{6}"), id="an-empty-matching-one-is-skipped"),
    ],
)
def test_project_patterns_are_redacted(patterns: tuple[str, ...]) -> None:
    s = protected(
        span({"input.value": "IBAN FR76 3000 6000 0112 3456 7890 189, order ORD-123456, ok"}),
        redact_secrets=False,
        redact_patterns=patterns,
    )
    expected = f"IBAN {PATTERN_MARK}, order " + (PATTERN_MARK if len(patterns) > 1 else "ORD-123456") + ", ok"
    assert s.attributes["input.value"] == expected


def test_project_patterns_apply_after_the_built_in_rules() -> None:
    s = protected(span({"input.value": f"{EMAIL} ref ORD-123456"}), redact_patterns=(r"ORD-\d+",))
    assert s.attributes["input.value"] == f"[redacted:email] ref {PATTERN_MARK}"


@pytest.mark.parametrize(
    ("patterns", "problems"),
    [
        pytest.param([IBAN, r"ORD-\d{6}", "(?i)secret"], [], id="valid"),
        pytest.param(["ok", "(unclosed"], ["pattern 2 '(unclosed' is not a valid regular expression"], id="invalid"),
        pytest.param(["a*"], ["pattern 1 'a*' matches the empty string"], id="empty-match"),
        pytest.param([""], ["pattern 1 must be a non-empty string"], id="empty"),
        pytest.param([42], ["pattern 1 must be a non-empty string"], id="not-a-string"),
        pytest.param(["a" * 1001], ["pattern 1 is longer than 1000 characters"], id="too-long"),
        pytest.param(["a"] * 51, ["at most 50 patterns (got 51)"], id="too-many"),
    ],
)
def test_validate_patterns_names_each_problem(patterns: list[Any], problems: list[str]) -> None:
    found = validate_patterns(patterns)
    assert len(found) == len(problems)
    for problem, expected in zip(found, problems, strict=True):
        assert problem.startswith(expected)


# --- the real corpus -----------------------------------------------------------------------------------------------


def corpus_spans(folder: str) -> list[RawSpan]:
    """Every span of a corpus folder, decoded from the captured bytes by the real decoders."""
    spans: list[RawSpan] = []
    for request in trace_requests(folder):
        body = gzip.decompress(request.body) if request.headers.get("Content-Encoding") == "gzip" else request.body
        decode = decode_json if request.headers["Content-Type"].startswith("application/json") else decode_protobuf
        spans += decode(body).spans
    return spans


@functools.cache
def conversation_texts() -> frozenset[str]:
    """What the corpus sessions said (the prompts, answers, tool arguments and results every folder's spans hold,
    as the conventions read them), gathered over all folders: each folder is checked against all of them."""
    texts = set()
    for folder in FOLDERS:
        for s in corpus_spans(folder):
            facts = normalize(s)
            texts |= {t for t in (facts.input_text, facts.output_text) if t and len(t) >= 12}
    return frozenset(texts)


def test_the_corpus_holds_a_conversation() -> None:
    texts = conversation_texts()
    assert "Hello! What can you help me with today?" in texts
    assert len(texts) > 30


@pytest.mark.parametrize("folder", FOLDERS)
def test_corpus_policy_none_keeps_no_conversation_text(folder: str) -> None:
    spans = corpus_spans(folder)
    before = [measures(s) for s in spans]
    assert any(t in everything(s) for s in spans for t in conversation_texts())
    protect(spans, Privacy(content_policy="none"))
    leaks = {t for s in spans for value in stored(s) for t in conversation_texts() if t in value}
    assert leaks == set()
    assert [measures(s) for s in spans] == before


IDENTITY_KEYS = {*sc.SESSION_ID_KEYS, *sc.USER_ID_KEYS, *sc.CONVERSATION_ID_KEYS, sc.TURN_ID}
"""Ids are never redacted: planting a secret there proves nothing."""


def _plant(value: str) -> str:
    planted = f"{EMAIL} {OPENAI_KEY}"
    return value.replace("Paris", f"Paris ({planted})") if "Paris" in value else f"{value} {planted}"


def _plant_everywhere(s: RawSpan) -> None:
    s.status_message = _plant(s.status_message)
    for attrs in (s.attributes, *(e.attributes for e in s.events)):
        for key, value in attrs.items():
            if isinstance(value, str) and key not in IDENTITY_KEYS:
                attrs[key] = _plant(value)


@pytest.mark.parametrize("folder", FOLDERS)
def test_corpus_planted_secrets_are_redacted_and_the_conversation_kept(folder: str) -> None:
    spans = corpus_spans(folder)
    for s in spans:
        _plant_everywhere(s)
    json_before = sum(len(_json_values(s)) for s in spans)
    texts_before = {t for s in spans for t in conversation_texts() if t in everything(s)}
    protect(spans, Privacy())
    assert not any(EMAIL in v or OPENAI_KEY in v for s in spans for v in stored(s))
    assert sum(len(_json_values(s)) for s in spans) == json_before
    texts = "\n".join(everything(s) for s in spans)
    assert texts.count("[redacted:email]") == texts.count("[redacted:openai_key]") > len(spans)
    assert all(t in texts for t in texts_before if "Paris" not in t)  # full policy: the conversation is kept


@pytest.mark.parametrize("folder", FOLDERS)
def test_corpus_user_ids_come_out_as_the_sdks_hash(folder: str) -> None:
    spans = corpus_spans(folder)
    sent = {expected_user_id(folder, s["user_id"]): s["user_id"] for s in manifest(folder)["expected"]["sessions"]}
    protect(spans, Privacy(hash_user_ids=True, user_id_salt=SALT))
    expected = {v if looks_hashed(v) else threadline.hash_user_id(v, salt=SALT) for v in sent}
    found = {normalize(s).user_id for s in spans} - {None}
    assert found == expected
    assert not any(plain in v for s in spans for v in stored(s) for plain in sent.values())
