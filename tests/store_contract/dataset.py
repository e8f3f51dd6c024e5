"""One deterministic set of sessions that exercises every read: orderings with ties, filters, users, an
orphan trace, a journey, explicit ends, errors, failed tools, a question left unanswered, odd texts."""

from __future__ import annotations

from support.otlp import SpanSpec, new_trace_id
from support.scenario import Session

NOW_S = 20_000.0
"""Seconds after BASE_NS that the read tests take as now (the idle timeout is 30 min)."""

USERS = {"ann": 3, "bob": 2, "cy": 1}


def sessions() -> list[Session]:
    made: list[Session] = []
    # Thirty plain sessions, for paging and ties: costs and turn counts repeat.
    for i in range(30):
        s = Session(f"bulk-{i:02d}", user_id=list(USERS)[i % 3])
        for turn in range(1 + i % 4):
            s.turn(i * 300 + turn * 20, input_tokens=100 + i % 5, output_tokens=10, cost_usd=0.001 * (1 + i % 6))
        made.append(s)
    # Ended by inactivity after a question: dropped off.
    made.append(Session("asked", user_id="ann").turn(15_000, answer="Which date suits you?"))
    # An LLM error; a failed tool in the next turn.
    made.append(
        Session("broken", user_id="bob")
        .turn(16_000, answer=None, llm_error="HTTP 500 upstream")
        .turn(16_100, tool_error="card_declined", model="gpt-4o")
    )
    # Explicitly ended, then still recent.
    made.append(Session("ended", user_id="cy").turn(19_500).event(19_600, {"session.end_reason": "user_left"}))
    # Active (recent, no end).
    made.append(Session("live", user_id="dee").turn(19_900, question="100% of 50_000?"))
    # A journey that converts.
    journey = Session("journey", user_id="eve")
    for stage, name in enumerate(("browse", "cart", "paid"), 1):
        journey.turn(
            17_000 + stage * 30,
            attributes={
                "journey.name": "checkout",
                "journey.stage": name,
                "journey.stage_number": stage,
                "journey.total_stages": 3,
                **({"journey.converted": True} if stage == 3 else {}),
            },
        )
    made.append(journey)
    return made


def orphan() -> list[SpanSpec]:
    """A trace that names no session."""
    trace_id = new_trace_id()
    return [SpanSpec(trace_id, name="nightly-job", start_s=18_000, end_s=18_001, attributes={"job": "reindex"})]
