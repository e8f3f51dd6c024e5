"""Spans of other instrumentation libraries carry the session, whichever library starts them."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from opentelemetry import trace

import threadline
from threadline.testing import Capture


def test_plain_otel_spans_inside_a_session_carry_its_ids(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("some.instrumentation")
    with threadline.session("sess_p", user_id="frank"):
        with tracer.start_as_current_span("retrieve documents"):
            pass
        with (
            threadline.conversation(conversation_id="conv_7"),
            threadline.turn("q"),
            tracer.start_as_current_span("POST https://api.openai.com/v1/chat/completions"),
        ):
            pass
    with tracer.start_as_current_span("outside any session"):
        pass
    spans = {s.name: s for s in threadline_capture.spans}
    assert dict(spans["retrieve documents"].attributes) == {
        "session.id": "sess_p",
        "user.id": threadline.hash_user_id("frank"),
        "conversation.id": "sess_p",
        "conversation.turn_number": 1,  # a root span in a session is a turn for the server
    }
    http = spans["POST https://api.openai.com/v1/chat/completions"]
    assert dict(http.attributes) == {
        "session.id": "sess_p",
        "user.id": threadline.hash_user_id("frank"),
        "conversation.id": "conv_7",
        "conversation.turn_number": 1,
    }
    assert http.parent.span_id == spans["turn"].context.span_id
    assert dict(spans["outside any session"].attributes) == {}


def test_root_spans_of_other_libraries_take_the_next_turn_number(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("agent-framework")
    with threadline.session("sess_mixed"):
        threadline.turn("sdk turn").end()
        with tracer.start_as_current_span("framework run"), tracer.start_as_current_span("framework step"):
            pass
        threadline.turn("next sdk turn").end()
    roots = [(s.name, s.attributes["conversation.turn_number"]) for s in threadline_capture.spans if not s.parent]
    assert roots == [("turn", 1), ("framework run", 2), ("turn", 3)]


def test_a_library_that_names_its_own_session_keeps_it(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("langfuse-like")
    with threadline.session("sess_ours"), tracer.start_as_current_span("x", attributes={"session.id": "theirs"}):
        pass
    assert threadline_capture.spans[0].attributes["session.id"] == "theirs"


def test_tool_calls_and_agent_runs_of_other_libraries_count_in_the_turn(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("frameworks")
    with threadline.session("sess_c"), threadline.turn("trip?") as turn:
        with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}):
            with tracer.start_as_current_span("execute_tool get_weather") as span:
                span.set_attribute("gen_ai.operation.name", "execute_tool")
            with tracer.start_as_current_span("search", attributes={"traceloop.span.kind": "tool"}):
                pass
            with threadline.tool_call("book"):
                pass
        turn.output("done")
    root = threadline_capture.spans[-1]
    assert root.attributes["turn.tool_calls"] == 3
    assert root.attributes["turn.agent_runs"] == 1
    by_name = {s.name: s for s in threadline_capture.spans}
    assert by_name["execute_tool book"].parent.span_id == by_name["agent"].context.span_id


def test_the_session_follows_tasks_and_copied_contexts(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("workers")

    def work(name: str) -> None:
        with tracer.start_as_current_span(name):
            pass

    async def main() -> None:
        with threadline.session("sess_async_ctx"):
            await asyncio.gather(asyncio.to_thread(work, "in a thread"), asyncio.create_task(_async_work(tracer)))

    asyncio.run(main())
    with threadline.session("sess_copied"):
        ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(work, "copied context"))
    thread.start()
    thread.join()
    sessions = {s.name: s.attributes.get("session.id") for s in threadline_capture.spans}
    assert sessions == {"in a thread": "sess_async_ctx", "in a task": "sess_async_ctx", "copied context": "sess_copied"}


async def _async_work(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("in a task"):
        await asyncio.sleep(0)


def test_a_turn_for_another_session_overrides_the_current_one(threadline_capture: Capture) -> None:
    with threadline.session("sess_outer", user_id="gina"):
        with threadline.turn("x", session_id="sess_named", user_id="hal"):
            pass
        with threadline.turn("y"):
            pass
    named, outer = (s.attributes for s in threadline_capture.spans)
    assert (named["session.id"], named["user.id"], named["turn.number"]) == (
        "sess_named",
        threadline.hash_user_id("hal"),
        1,
    )
    assert (outer["session.id"], outer["user.id"], outer["turn.number"]) == (
        "sess_outer",
        threadline.hash_user_id("gina"),
        1,
    )
