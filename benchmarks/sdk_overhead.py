"""SDK cost on the caller's thread: one turn with 2 LLM calls and 1 tool call.

Two variants make the same spans (names, parents and attributes; checked before timing) and export
them through the same ``BatchSpanProcessor`` settings to the same discarding exporter:

- ``bare OTel``: the application writes the spans with the OpenTelemetry SDK directly;
- ``threadline``: the application uses ``threadline.turn`` / ``llm_call`` / ``tool_call``.

Rounds alternate the two variants; each round times a batch of turns with the caller thread's CPU
clock (``time.thread_time_ns``: the export worker's work is not the caller's). Prints the median time
per turn of each variant and the ratio (target ≤ 1.3×).

    .venv/bin/python benchmarks/sdk_overhead.py [--rounds 40] [--turns 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import threadline
from threadline import hash_user_id
from threadline._sdk import runtime

QUESTION = "Can you find me a flight from Paris to Lisbon next Friday?"
PLAN = "I will search for flights."
ANSWER = "TP 433 leaves Paris at 09:05 and lands in Lisbon at 10:45 for 142 EUR. Shall I book it?"
TOOL_ARGS = {"from": "CDG", "to": "LIS", "date": "2026-11-27"}
TOOL_RESULT = {"flights": [{"number": "TP 433", "price": 142}]}
BATCH = {"max_queue_size": 8192, "max_export_batch_size": 512, "schedule_delay_millis": 500}
SESSION_ID, USER = "sess_0123456789abcdef", "user-42"
ROOT = otel_context.Context()


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Keep(Discard):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _parts(role: str, text: str) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if role == "assistant":
        message["finish_reason"] = "stop"
    return json.dumps([message], ensure_ascii=False, separators=(",", ":"))


def bare_turn_factory(tracer: trace.Tracer) -> Callable[[int], None]:
    """What an application writes with the bare OTel SDK to make the same spans."""
    user = hash_user_id(USER)
    ids = {"session.id": SESSION_ID, "user.id": user, "conversation.id": SESSION_ID}

    def one_turn(number: int) -> None:
        start = time.time_ns()
        turn_ids = {**ids, "conversation.turn_number": number}
        root_attrs = {
            "threadline.span.kind": "turn",
            "session.channel": "web",
            **turn_ids,
            "turn.number": number,
            "turn.input_type": "question",
            "turn.input_length": len(QUESTION),
            "input.value": QUESTION,
        }
        with tracer.start_as_current_span("turn", context=ROOT, attributes=root_attrs, start_time=start) as turn:
            for call, (text, tokens) in enumerate(((PLAN, (820, 12)), (ANSWER, (960, 40)))):
                attrs = {
                    **turn_ids,
                    "threadline.span.kind": "llm",
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.provider.name": "openai",
                }
                with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attrs) as llm:
                    llm.set_attributes(
                        {
                            "gen_ai.usage.input_tokens": tokens[0],
                            "gen_ai.usage.output_tokens": tokens[1],
                            "threadline.cost.usd": 0.0002,
                            "gen_ai.input.messages": _parts("user", QUESTION),
                            "gen_ai.output.messages": _parts("assistant", text),
                        }
                    )
                if call == 0:
                    tool_attrs = {
                        **turn_ids,
                        "threadline.span.kind": "tool",
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "search_flights",
                        "gen_ai.tool.call.arguments": json.dumps(TOOL_ARGS, separators=(",", ":")),
                    }
                    with tracer.start_as_current_span("execute_tool search_flights", attributes=tool_attrs) as tool:
                        tool.set_attribute("gen_ai.tool.call.result", json.dumps(TOOL_RESULT, separators=(",", ":")))
            turn.set_attribute("output.value", ANSWER)
            end = time.time_ns()
            turn.set_attributes(
                {
                    "turn.latency_ms": round((end - start) / 1e6, 3),
                    "turn.tool_calls": 1,
                    "turn.agent_runs": 0,
                    "turn.output_length": len(ANSWER),
                }
            )

    return one_turn


def sdk_turn(number: int) -> None:
    """The same turn with the Threadline SDK."""
    with threadline.turn(QUESTION, input_type="question", turn_number=number) as turn:
        for call, (text, tokens) in enumerate(((PLAN, (820, 12)), (ANSWER, (960, 40)))):
            with threadline.llm_call(model="gpt-4o-mini", provider="openai") as llm:
                llm.record(
                    input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=0.0002, input=QUESTION, output=text
                )
            if call == 0:
                with threadline.tool_call("search_flights", TOOL_ARGS) as tool:
                    tool.result(TOOL_RESULT)
        turn.output(ANSWER)


def _shape(spans: Sequence[ReadableSpan]) -> list[tuple[str, bool, tuple[str, ...]]]:
    return sorted((s.name, s.parent is None, tuple(sorted(s.attributes or {}))) for s in spans)


def check_same_spans() -> bool:
    """Both variants export the same span names, tree shape and attribute keys."""
    bare_exporter, sdk_exporter = Keep(), Keep()
    bare_provider = TracerProvider()
    bare_provider.add_span_processor(BatchSpanProcessor(bare_exporter, **BATCH))  # type: ignore[arg-type]
    bare_turn_factory(bare_provider.get_tracer("app"))(1)
    bare_provider.force_flush()
    sdk_provider = TracerProvider()
    threadline.configure(tracer_provider=sdk_provider, exporter=sdk_exporter)
    with threadline.session(SESSION_ID, user_id=USER, channel="web"):
        sdk_turn(1)
    threadline.flush()
    threadline.shutdown()
    bare_provider.shutdown()
    sdk_provider.shutdown()
    return _shape(bare_exporter.spans) == _shape(sdk_exporter.spans) and len(sdk_exporter.spans) == 4


def time_batch(one_turn: Callable[[int], None], turns: int) -> float:
    """Caller-thread CPU nanoseconds per turn over a batch."""
    gc.collect()
    start = time.thread_time_ns()
    for number in range(1, turns + 1):
        one_turn(number)
    return (time.thread_time_ns() - start) / turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--turns", type=int, default=200, help="turns per timed batch")
    args = parser.parse_args()

    same = check_same_spans()
    print(f"same spans in both variants (names, tree, attribute keys): {'yes' if same else 'NO'}")

    bare_provider = TracerProvider()
    bare_provider.add_span_processor(BatchSpanProcessor(Discard(), **BATCH))  # type: ignore[arg-type]
    bare = bare_turn_factory(bare_provider.get_tracer("app"))
    sdk_provider = TracerProvider()
    threadline.configure(
        tracer_provider=sdk_provider,
        exporter=Discard(),
        max_queue_size=BATCH["max_queue_size"],
        max_export_batch_size=BATCH["max_export_batch_size"],
        schedule_delay=BATCH["schedule_delay_millis"] / 1000,
    )
    session = threadline.session(SESSION_ID, user_id=USER, channel="web")
    session.__enter__()

    for _ in range(3):  # warm-up
        time_batch(bare, args.turns)
        time_batch(sdk_turn, args.turns)
    bare_times, sdk_times = [], []
    for round_number in range(args.rounds):
        order = ((bare, bare_times), (sdk_turn, sdk_times))
        for fn, sink in order if round_number % 2 == 0 else reversed(order):
            sink.append(time_batch(fn, args.turns))

    session.__exit__(None, None, None)
    dropped = threadline.stats().spans_dropped
    threadline.shutdown()
    bare_provider.shutdown()
    sdk_provider.shutdown()

    bare_us, sdk_us = statistics.median(bare_times) / 1e3, statistics.median(sdk_times) / 1e3
    print(f"turns per batch: {args.turns}, rounds: {args.rounds}, spans dropped: {dropped}")
    print(f"bare OTel   median caller-thread time per turn: {bare_us:8.1f} µs")
    print(f"threadline  median caller-thread time per turn: {sdk_us:8.1f} µs")
    ratio = sdk_us / bare_us
    print(f"ratio threadline / bare OTel: {ratio:.2f}x (target <= 1.30x) {'OK' if ratio <= 1.3 else 'OVER'}")
    assert runtime.STATE.runtime is None or not runtime.STATE.runtime.settings.enabled


if __name__ == "__main__":
    main()
