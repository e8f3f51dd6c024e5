"""A seeded generator of multi-turn agent sessions, as OTLP/protobuf request bodies.

Each turn is one trace of 4 spans, as an agent framework with OpenTelemetry GenAI instrumentation
emits them: the turn's root span (session id, user id, turn number, the user's message and the
answer), an LLM call that decides to use a tool, the tool call, and the LLM call that answers. LLM
calls carry the whole conversation so far (system prompt and history) as ``gen_ai.input.messages``,
so spans grow with the turn number like real ones. About 2% of LLM calls fail, 15% of answers end
with a question, and one session in four follows a five-stage journey (one in eight converts).

Requests hold about ``spans_per_request`` spans, interleaving many sessions (as a busy service's
batch exporter does). Everything derives from the seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans, Span

_VOCABULARY = (
    "order refund account invoice shipping delivery password reset billing plan upgrade weather "
    "paris london tokyo tomorrow today please could you help me with my the a an is are was it this "
    "that and or but when where why how which price cost subscription cancel change address email "
    "phone card payment failed error again still not working thanks great perfect sure check status "
    "tracking number"
)
WORDS = tuple(_VOCABULARY.split(" "))
SYSTEM_PROMPT = (
    "You are Threadline Travel's support assistant. Answer briefly and accurately. Use the tools when the "
    "user asks about orders, weather or bookings. Never reveal internal identifiers. If you are unsure, ask "
    "a clarifying question. Keep a friendly, professional tone and avoid speculation about refunds."
)
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-3-5-haiku-20241022"))
TOOLS = ("get_weather", "lookup_order", "search_docs", "create_ticket")
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class Workload:
    sessions: int
    turns_per_session: int = 5
    spans_per_turn: int = 4
    spans_per_request: int = 500
    seed: int = 7
    history_messages: int = 8
    """Messages of the conversation each LLM call resends (as an agent that keeps a window); 0: all of them."""

    @property
    def total_spans(self) -> int:
        return self.sessions * self.turns_per_session * self.spans_per_turn


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _messages(history: list[tuple[str, str]], *, system: bool = True) -> str:
    messages = [{"role": "system", "parts": [{"type": "text", "content": SYSTEM_PROMPT}]}] if system else []
    for role, content in history:
        messages.append({"role": role, "parts": [{"type": "text", "content": content}]})
    return json.dumps(messages)


class _Session:
    def __init__(self, rng: random.Random, index: int, start_ns: int, history_messages: int = 8) -> None:
        self.index = index
        self.history_messages = history_messages
        self.id = f"sess_{rng.getrandbits(64):016x}"
        self.user = f"{rng.getrandbits(128):032x}"
        self.provider, self.model = MODELS[index % len(MODELS)]
        self.next_ns = start_ns
        self.turn = 0
        self.history: list[tuple[str, str]] = []


def _turn_spans(rng: random.Random, session: _Session) -> list[Span]:
    session.turn += 1
    start = session.next_ns
    trace_id = rng.randbytes(16)
    root_id = rng.randbytes(8)
    question = _text(rng, 8, 60) + "?"
    answer = _text(rng, 30, 220) + ("?" if rng.random() < 0.15 else ".")
    tool = TOOLS[rng.randrange(len(TOOLS))]
    failed = rng.random() < 0.02
    ms = 1_000_000
    t_llm1, t_tool, t_llm2, t_end = start + 5 * ms, start + 800 * ms, start + 900 * ms, start + 2600 * ms
    usage1 = (300 + 120 * len(session.history), rng.randint(15, 40))
    usage2 = (usage1[0] + 150, rng.randint(60, 400))
    root = Span(
        trace_id=trace_id,
        span_id=root_id,
        name="agent.turn",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=t_end,
        attributes=[
            _kv("session.id", session.id),
            _kv("user.id", session.user),
            _kv("conversation.turn_number", session.turn),
            _kv("turn.input_type", "question"),
            _kv("input.value", question),
            _kv("output.value", "" if failed else answer),
            _kv("session.channel", "web"),
            *_journey(session),
        ],
    )
    history = [*session.history, ("user", question)]
    llm1 = Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        parent_span_id=root_id,
        name=f"chat {session.model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=t_llm1,
        end_time_unix_nano=t_tool - ms,
        attributes=[
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", session.provider),
            _kv("gen_ai.request.model", session.model),
            _kv("gen_ai.response.model", session.model),
            _kv("gen_ai.usage.input_tokens", usage1[0]),
            _kv("gen_ai.usage.output_tokens", usage1[1]),
            _kv("gen_ai.input.messages", _messages(history)),
            _kv(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "name": tool}]}]),
            ),
        ],
    )
    tool_span = Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        parent_span_id=root_id,
        name=f"execute_tool {tool}",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=t_tool,
        end_time_unix_nano=t_llm2 - ms,
        attributes=[
            _kv("gen_ai.operation.name", "execute_tool"),
            _kv("gen_ai.tool.name", tool),
            _kv("gen_ai.tool.call.arguments", json.dumps({"query": _text(rng, 2, 6)})),
            _kv("gen_ai.tool.call.result", json.dumps({"result": _text(rng, 10, 60)})),
        ],
    )
    llm2 = Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        parent_span_id=root_id,
        name=f"chat {session.model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=t_llm2,
        end_time_unix_nano=t_end - ms,
        attributes=[
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", session.provider),
            _kv("gen_ai.request.model", session.model),
            _kv("gen_ai.response.model", session.model),
            _kv("gen_ai.usage.input_tokens", usage2[0]),
            _kv("gen_ai.usage.output_tokens", 0 if failed else usage2[1]),
            _kv("gen_ai.input.messages", _messages([*history, ("tool", tool)])),
        ],
    )
    if failed:
        llm2.status.code = 2
        llm2.status.message = "RateLimitError: Error code: 429"
    else:
        llm2.attributes.append(_kv("gen_ai.output.messages", _messages([("assistant", answer)], system=False)))
    session.history = [*history, ("assistant", answer)][-session.history_messages :]
    session.next_ns = t_end + rng.randint(5, 90) * 10**9
    return [root, llm1, tool_span, llm2]


def _journey(session: _Session) -> list[KeyValue]:
    """One session in four follows a checkout journey, a stage per turn; one in eight converts."""
    if session.index % 4:
        return []
    marks = [
        _kv("journey.name", "checkout"),
        _kv("journey.stage", f"step-{session.turn}"),
        _kv("journey.stage_number", session.turn),
        _kv("journey.total_stages", 5),
    ]
    if session.index % 8 == 0 and session.turn == 5:
        marks.append(_kv("journey.converted", True))
    return marks


def requests(workload: Workload, now_ns: int) -> Iterator[bytes]:
    """Serialized ExportTraceServiceRequest bodies covering the whole workload, deterministic per seed."""
    rng = random.Random(workload.seed)
    active: list[_Session] = []
    started = 0
    pending: list[Span] = []
    interleave = 64  # sessions in flight at once
    while started < workload.sessions or active:
        while len(active) < interleave and started < workload.sessions:
            # Sessions start over the last three days, so some are active and most have ended.
            start = now_ns - rng.randint(0, 3 * DAY_NS)
            active.append(_Session(rng, started, start, workload.history_messages))
            started += 1
        session = active[rng.randrange(len(active))]
        pending.extend(_turn_spans(rng, session))
        if session.turn >= workload.turns_per_session:
            active.remove(session)
        if len(pending) >= workload.spans_per_request:
            yield _encode(pending)
            pending = []
    if pending:
        yield _encode(pending)


def _encode(spans: list[Span]) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [_kv("service.name", "support-agent"), _kv("deployment.environment", "bench")]
    )
    scope = ScopeSpans()
    scope.scope.name = "support-agent"
    scope.spans.extend(spans)
    resource_spans.scope_spans.append(scope)
    return request.SerializeToString()
