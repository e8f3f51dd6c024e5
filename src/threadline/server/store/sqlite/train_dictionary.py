"""Train the zstd dictionary that span bodies and trace folds are compressed with (``compress``).

    python -m threadline.server.store.sqlite.train_dictionary OUTPUT

Samples are synthetic and seeded: conversations in each convention the server reads (OTel GenAI, its
older indexed form, OpenInference, OpenLLMetry, Logfire, Langfuse, Threadline's seed vocabulary), turned
into what the engine stores: bodies whose long strings are text references (``codec.encode_body``) and
the JSON of their traces' folds (``codec.encode_trace``). What they say is made of invented syllables, so
the dictionary holds attribute names and the shape of the JSON, not any language's words. A dictionary
that has shipped is never replaced (stored values name theirs by their marker): a new one gets a new
file and marker.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zstandard

from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.store.sqlite import codec
from threadline.server.store.sqlite.textparts import Cutter

DICTIONARY_BYTES = 16 * 1024
_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vu", "pel", "dor", "fi", "nu", "gra", "sti", "ol", "be", "zen")
_MODELS = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "o3-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("gcp.gemini", "gemini-1.5-pro"),
    ("aws.bedrock", "meta.llama3-1-70b-instruct-v1:0"),
    ("mistral_ai", "mistral-large-latest"),
)
_SCOPES = (
    ("opentelemetry.instrumentation.openai_v2", "2.1b0"),
    ("opentelemetry.instrumentation.openai.v1", "0.40.2"),
    ("openinference.instrumentation.openai", "0.1.20"),
    ("logfire", "3.5.0"),
    ("langfuse-sdk", "3.0.0"),
    ("threadline", "0.1.0"),
)


class _Synth:
    """Invented conversations, deterministic per seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = itertools.count(1)

    def text(self, low: int, high: int) -> str:
        words = ("".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(1, 3))) for _ in range(high))
        return " ".join(itertools.islice(words, self.rng.randint(low, high))) + self.rng.choice(".?!")

    def hex(self, size: int) -> str:
        return f"{self.rng.getrandbits(size * 8):0{size * 2}x}"

    def messages(self, turns: int, parts: bool) -> list[dict[str, Any]]:
        roles = ["system", *itertools.islice(itertools.cycle(("user", "assistant")), turns * 2 - 1)]
        out: list[dict[str, Any]] = []
        for role in roles:
            content = self.text(4, 60)
            if parts:
                out.append({"role": role, "parts": [{"type": "text", "content": content}]})
            else:
                out.append({"role": role, "content": content})
        return out

    def span(self, trace_id: bytes, parent: bytes | None, name: str, attributes: dict[str, Any]) -> RawSpan:
        start = 1_700_000_000_000_000_000 + self.rng.randrange(10**15)
        events = []
        if self.rng.random() < 0.05:
            events.append(
                SpanEvent(
                    "exception",
                    start + 5,
                    {
                        "exception.type": "RateLimitError",
                        "exception.message": self.text(3, 12),
                        "exception.stacktrace": "Traceback (most recent call last):\n  " + self.text(20, 60),
                        "exception.escaped": "False",
                    },
                )
            )
        scope = self.rng.choice(_SCOPES)
        return RawSpan(
            trace_id=trace_id,
            span_id=self.rng.randbytes(8),
            parent_span_id=parent,
            name=name,
            kind=self.rng.choice((1, 3)),
            start_ns=start,
            end_ns=start + self.rng.randrange(10**10),
            status_code=2 if events else 0,
            status_message=events[0].attributes["exception.message"] if events else "",
            attributes=attributes,
            events=events,
            resource=Resource({"service.name": "agent"}),
            scope=Scope(scope[0], scope[1], {}),
        )

    def llm(self, convention: str, turn: int, session: str, user: str) -> dict[str, Any]:
        provider, model = self.rng.choice(_MODELS)
        tokens_in, tokens_out = self.rng.randint(10, 90_000), self.rng.randint(1, 4000)
        history = self.messages(turn, parts=convention == "genai")
        answer = self.text(5, 80)
        if convention == "genai":
            return {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.response.id": "chatcmpl-" + self.hex(12),
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.request.temperature": 0.2,
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "gen_ai.input.messages": json.dumps(history),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
                ),
                "server.address": "api." + provider + ".com",
                "server.port": 443,
            }
        if convention == "indexed":
            attributes: dict[str, Any] = {
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "llm.request.type": "chat",
                "llm.is_streaming": False,
                "gen_ai.usage.prompt_tokens": tokens_in,
                "gen_ai.usage.completion_tokens": tokens_out,
                "llm.usage.total_tokens": tokens_in + tokens_out,
                "traceloop.association.properties.session_id": session,
                "traceloop.association.properties.user_id": user,
            }
            for index, message in enumerate(history):
                attributes[f"gen_ai.prompt.{index}.role"] = message["role"]
                attributes[f"gen_ai.prompt.{index}.content"] = message["content"]
            attributes.update(
                {
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": answer,
                    "gen_ai.completion.0.finish_reason": "stop",
                }
            )
            return attributes
        if convention == "openinference":
            attributes = {
                "openinference.span.kind": "LLM",
                "llm.model_name": model,
                "llm.provider": provider,
                "llm.system": provider,
                "llm.invocation_parameters": json.dumps({"model": model, "temperature": 0.2}),
                "input.value": json.dumps({"model": model, "messages": history}),
                "input.mime_type": "application/json",
                "output.value": answer,
                "output.mime_type": "text/plain",
                "llm.token_count.prompt": tokens_in,
                "llm.token_count.completion": tokens_out,
                "llm.token_count.total": tokens_in + tokens_out,
                "session.id": session,
                "user.id": user,
            }
            for index, message in enumerate(history):
                attributes[f"llm.input_messages.{index}.message.role"] = message["role"]
                attributes[f"llm.input_messages.{index}.message.content"] = message["content"]
            attributes["llm.output_messages.0.message.role"] = "assistant"
            attributes["llm.output_messages.0.message.content"] = answer
            return attributes
        if convention == "logfire":
            return {
                "logfire.span_type": "span",
                "logfire.msg_template": "Chat Completion with {request_data[model]!r}",
                "logfire.msg": f"Chat Completion with {model!r}",
                "logfire.json_schema": json.dumps(
                    {"type": "object", "properties": {"request_data": {"type": "object"}}}
                ),
                "request_data": json.dumps({"model": model, "messages": history}),
                "response_data": json.dumps({"message": {"role": "assistant", "content": answer}}),
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
            }
        return {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": model,
            "langfuse.observation.input": json.dumps(history),
            "langfuse.observation.output": json.dumps({"role": "assistant", "content": answer}),
            "langfuse.observation.usage_details": json.dumps({"input": tokens_in, "output": tokens_out}),
            "langfuse.session.id": session,
            "langfuse.user.id": user,
            "langfuse.trace.name": "chat",
        }

    def root(self, turn: int, session: str, user: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "session.id": session,
            "user.id": user,
            "conversation.turn_number": turn,
            "threadline.span.kind": "turn",
            "turn.input_type": self.rng.choice(("question", "request", "follow_up")),
            "input.value": self.text(3, 40),
            "output.value": self.text(5, 90),
            "session.channel": self.rng.choice(("web", "mobile", "api", "slack")),
        }
        if self.rng.random() < 0.3:
            attributes.update({"journey.name": "onboarding", "journey.stage": "step", "journey.stage_number": turn})
        if self.rng.random() < 0.3:
            attributes.update({"context.current_tokens": self.rng.randint(100, 100_000), "context.limit": 128_000})
        return attributes

    def tool(self) -> dict[str, Any]:
        name = "".join(self.rng.choice(_SYLLABLES) for _ in range(3))
        return {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": "call_" + self.hex(12),
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": json.dumps({"query": self.text(1, 6)}),
            "gen_ai.tool.call.result": json.dumps({"result": self.text(5, 60)}),
        }

    def trace(self, convention: str, turn: int, session: str, user: str) -> list[RawSpan]:
        trace_id = self.rng.randbytes(16)
        root = self.span(trace_id, None, "agent.turn", self.root(turn, session, user))
        spans = [root]
        for _ in range(self.rng.randint(1, 2)):
            spans.append(self.span(trace_id, root.span_id, "chat", self.llm(convention, turn, session, user)))
        if self.rng.random() < 0.6:
            spans.append(self.span(trace_id, root.span_id, "execute_tool", self.tool()))
        return spans


def samples(seed: int = 1, traces: int = 2000) -> Iterator[bytes]:
    """Stored bodies and fold JSON of synthetic traces."""
    synth = _Synth(seed)
    prepare = Preparer().prepare
    extract = functools.partial(Cutter().extract, 0, lambda _: next(synth.ids))
    conventions = ("genai", "indexed", "openinference", "logfire", "langfuse")
    for index in range(traces):
        session, user = "sess_" + synth.hex(8), synth.hex(16)
        spans = synth.trace(conventions[index % len(conventions)], synth.rng.randint(1, 8), session, user)
        agg = TraceAgg(spans[0].trace_id)
        for span, facts in prepare(spans):
            agg.add(span, facts)
            yield codec.encode_body(span, extract)
        yield codec.encode_trace(agg)[-1]


def train(seed: int = 1) -> bytes:
    dictionary = zstandard.train_dictionary(DICTIONARY_BYTES, list(samples(seed)), level=3, threads=0)
    return dictionary.as_bytes()


def main() -> None:
    Path(sys.argv[1]).write_bytes(train())


if __name__ == "__main__":
    main()
