"""Threadline: session observability for multi-turn LLM agents.

The SDK describes an application's hierarchy (user → session → conversation → turn → agent run →
LLM call / tool call) on top of OpenTelemetry and exports it over OTLP/HTTP::

    import threadline

    threadline.configure(endpoint="http://127.0.0.1:4318")
    with threadline.session(user_id="alice") as session:
        with threadline.turn(input="Where is my order?") as turn:
            with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
                call.record(input_tokens=812, output_tokens=64, output="It ships today.")
            turn.output("It ships today.")

Importing this package patches nothing and starts nothing. See ``docs/sdk.md``.
"""

from __future__ import annotations

from threadline._sdk.calls import AgentRun, LLMCall, ToolCall, agent_run, llm_call, tool_call
from threadline._sdk.configure import configure, flush, shutdown
from threadline._sdk.events import context_window, end_session, feedback, journey
from threadline._sdk.ids import hash_user_id, new_session_id
from threadline._sdk.observe import observe
from threadline._sdk.send_run import LLMCallRecord, ToolCallRecord, send_run
from threadline._sdk.sessions import Conversation, Session, conversation, session, set_session
from threadline._sdk.stats import Stats, stats
from threadline._sdk.turn import Turn, turn

__all__ = [
    "AgentRun",
    "Conversation",
    "LLMCall",
    "LLMCallRecord",
    "Session",
    "Stats",
    "ToolCall",
    "ToolCallRecord",
    "Turn",
    "agent_run",
    "configure",
    "context_window",
    "conversation",
    "end_session",
    "feedback",
    "flush",
    "hash_user_id",
    "journey",
    "llm_call",
    "new_session_id",
    "observe",
    "send_run",
    "session",
    "set_session",
    "shutdown",
    "stats",
    "tool_call",
    "turn",
]
