"""Build sessions turn by turn for scenario tests: answers, questions, failures, journeys, explicit ends.

Times are seconds after ``BASE_NS`` (``support.otlp``); a ``ManualClock`` starting there lets a test
decide what "now" is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from support.otlp import BASE_NS, PROTOBUF, SpanSpec, new_trace_id, request

NS = 10**9


@dataclass
class Session:
    session_id: str
    user_id: str = "user-1"
    spans: list[SpanSpec] = field(default_factory=list)
    turns: int = 0

    def turn(
        self,
        start_s: float,
        *,
        question: str = "Where is my order?",
        answer: str | None = "It ships tomorrow.",
        latency_s: float = 2.0,
        input_tokens: int = 100,
        output_tokens: int = 20,
        cost_usd: float | None = None,
        llm_error: str | None = None,
        tool_error: str | None = None,
        model: str = "gpt-4o-mini",
        attributes: dict[str, Any] | None = None,
    ) -> Session:
        """One turn (a trace): a root span, an LLM call, and a tool call when ``tool_error`` is given."""
        self.turns += 1
        trace_id = new_trace_id()
        root_attrs: dict[str, Any] = {
            "session.id": self.session_id,
            "user.id": self.user_id,
            "conversation.turn_number": self.turns,
            "turn.input_type": "question",
            "input.value": question,
            **(attributes or {}),
        }
        if answer is not None:
            root_attrs["output.value"] = answer
        root = SpanSpec(trace_id, name="turn", start_s=start_s, end_s=start_s + latency_s, attributes=root_attrs)
        llm_attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        }
        if cost_usd is not None:
            llm_attrs["threadline.cost.usd"] = cost_usd
        llm = SpanSpec(
            trace_id,
            parent_span_id=root.span_id,
            name=f"chat {model}",
            start_s=start_s + 0.1,
            end_s=start_s + latency_s - 0.1,
            attributes=llm_attrs,
            error=llm_error,
        )
        self.spans += [root, llm]
        if tool_error is not None:
            self.spans.append(
                SpanSpec(
                    trace_id,
                    parent_span_id=root.span_id,
                    name="execute_tool lookup_order",
                    start_s=start_s + 0.2,
                    end_s=start_s + 0.3,
                    attributes={"gen_ai.tool.name": "lookup_order"},
                    error=tool_error,
                )
            )
        return self

    def event(self, at_s: float, attributes: dict[str, Any]) -> Session:
        """A session event: a root span that records something without being a turn."""
        self.spans.append(
            SpanSpec(
                new_trace_id(),
                name="session.event",
                start_s=at_s,
                end_s=at_s,
                attributes={
                    "session.id": self.session_id,
                    "user.id": self.user_id,
                    "threadline.span.kind": "session_event",
                    **attributes,
                },
            )
        )
        return self

    def send(self, client: httpx.Client) -> None:
        response = client.post("/v1/traces", content=request(*self.spans), headers=PROTOBUF)
        assert response.status_code == 200, response.text
        self.spans = []


def at(seconds: float) -> int:
    """``BASE_NS`` + seconds, in nanoseconds (for setting a ManualClock)."""
    return BASE_NS + int(seconds * NS)


def iso_at(seconds: float) -> str:
    from threadline.server.api.params import iso

    return iso(at(seconds))
