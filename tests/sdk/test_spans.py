"""What the SDK exports, span by span (capturing exporter, deterministic ids and clock)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from opentelemetry import context as otel_context

import threadline
from threadline.testing import Capture

USER = threadline.hash_user_id  # hashed with the test salt once configured


def test_turn_with_llm_and_tool_call(threadline_capture: Capture) -> None:
    with (
        threadline.session("sess_1", user_id="alice", channel="web", locale="fr-FR", user_tier="pro"),
        threadline.turn("Book me a flight to Lisbon", input_type="request") as turn,
    ):
        with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
            call.record(input_tokens=812, output_tokens=12, cost_usd=0.0003, input="Book me a flight", output="ok")
        with threadline.tool_call("search_flights", {"to": "LIS"}, call_id="call_1") as tool:
            tool.result({"flights": 2})
        turn.output("Two flights found. Which one?")
    user = USER("alice")
    ids = {"session.id": "sess_1", "user.id": user, "conversation.id": "sess_1", "conversation.turn_number": 1}
    assert threadline_capture.snapshot() == [
        {
            "name": "chat gpt-4o-mini",
            "trace_id": 1,
            "span_id": 2,
            "parent_id": 1,
            "start_time": 2_000_000_000,
            "end_time": 3_000_000_000,
            "status": "UNSET",
            "attributes": {
                **ids,
                "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Book me a flight"}]}]',
                "gen_ai.operation.name": "chat",
                "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"ok"}],'
                '"finish_reason":"stop"}]',
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 812,
                "gen_ai.usage.output_tokens": 12,
                "threadline.cost.usd": 0.0003,
                "threadline.span.kind": "llm",
            },
        },
        {
            "name": "execute_tool search_flights",
            "trace_id": 1,
            "span_id": 3,
            "parent_id": 1,
            "start_time": 4_000_000_000,
            "end_time": 5_000_000_000,
            "status": "UNSET",
            "attributes": {
                **ids,
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.call.arguments": '{"to":"LIS"}',
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.result": '{"flights":2}',
                "gen_ai.tool.name": "search_flights",
                "threadline.span.kind": "tool",
            },
        },
        {
            "name": "turn",
            "trace_id": 1,
            "span_id": 1,
            "parent_id": None,
            "start_time": 1_000_000_000,
            "end_time": 6_000_000_000,
            "status": "UNSET",
            "attributes": {
                **ids,
                "input.value": "Book me a flight to Lisbon",
                "output.value": "Two flights found. Which one?",
                "session.channel": "web",
                "session.locale": "fr-FR",
                "threadline.span.kind": "turn",
                "turn.agent_runs": 0,
                "turn.input_length": 26,
                "turn.input_type": "request",
                "turn.latency_ms": 5000.0,
                "turn.number": 1,
                "turn.output_length": 29,
                "turn.tool_calls": 1,
                "user.tier": "pro",
            },
        },
    ]


def test_turn_numbers_count_per_conversation_and_survive_new_session_blocks(threadline_capture: Capture) -> None:
    with threadline.session("sess_n"):
        threadline.turn("a").end()
        threadline.turn("b").end()
        with threadline.conversation(topic="billing") as billing:
            threadline.turn("c").end()
        threadline.turn("d").end()
    with threadline.session("sess_n"):  # the next request of the same session
        threadline.turn("e").end()
        threadline.turn("f", turn_number=10).end()
        threadline.turn("g").end()
    numbers = [
        (s.attributes["input.value"], s.attributes["conversation.id"], s.attributes["turn.number"])
        for s in threadline_capture.spans
    ]
    assert numbers == [
        ("a", "sess_n", 1),
        ("b", "sess_n", 2),
        ("c", billing.id, 1),
        ("d", "sess_n", 3),
        ("e", "sess_n", 4),
        ("f", "sess_n", 10),
        ("g", "sess_n", 11),
    ]
    assert billing.id == "conv_0000000000000001"
    assert threadline_capture.spans[2].attributes["conversation.topic"] == "billing"


def test_turn_is_a_root_span_linked_to_the_span_that_was_current(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("web-framework")
    with (
        tracer.start_as_current_span("POST /chat") as request,
        threadline.session("sess_r"),
        threadline.turn("hi") as turn,
    ):
        pass
    turn_span, request_span = threadline_capture.spans
    assert turn_span.parent is None
    assert turn_span.context.trace_id != request_span.context.trace_id
    assert [link.context.span_id for link in turn_span.links] == [request.get_span_context().span_id]
    assert turn.trace_id == format(turn_span.context.trace_id, "032x")


def test_builder_objects_work_without_with_blocks(threadline_capture: Capture) -> None:
    session = threadline.session(user_id="bob")
    turn = session.turn("What is the weather?", input_type="question")
    call = turn.llm_call(model="claude-sonnet-4", provider="anthropic")
    call.record(input_tokens=10, output_tokens=3).end()
    tool = turn.tool_call("weather", {"city": "Paris"})
    tool.result("sunny")
    tool.end()
    turn.output("Sunny.")
    turn.end()
    turn.end()  # ending twice is harmless
    spans = {s.name: s for s in threadline_capture.spans}
    assert session.id == "sess_0000000000000001"
    assert spans["turn"].attributes["session.id"] == session.id
    assert spans["turn"].attributes["user.id"] == USER("bob") == session.user_id
    assert spans["chat claude-sonnet-4"].parent.span_id == spans["turn"].context.span_id
    assert spans["execute_tool weather"].parent.span_id == spans["turn"].context.span_id
    assert spans["turn"].attributes["turn.tool_calls"] == 1


def test_async_context_managers_and_tasks(threadline_capture: Capture) -> None:
    async def tool(name: str) -> None:
        async with threadline.tool_call(name) as call:
            await asyncio.sleep(0)
            call.result("done")

    async def main() -> None:
        async with threadline.session("sess_async"), threadline.turn("go") as turn:
            await asyncio.gather(tool("a"), tool("b"))
            async with threadline.agent_run("planner") as agent:
                agent.output("planned")
            turn.output("went")

    asyncio.run(main())
    by_name = {s.name: s for s in threadline_capture.spans}
    root = by_name["turn"]
    assert {by_name[n].parent.span_id for n in ("execute_tool a", "execute_tool b", "invoke_agent planner")} == {
        root.context.span_id
    }
    assert root.attributes["turn.tool_calls"] == 2
    assert root.attributes["turn.agent_runs"] == 1
    assert by_name["execute_tool a"].attributes["session.id"] == "sess_async"


def test_set_session_is_ambient_for_the_thread_that_set_it(threadline_capture: Capture) -> None:
    seen: dict[str, object] = {}

    def worker() -> None:
        threadline.set_session("sess_thread", user_id="carol")
        threadline.turn("one").end()
        threadline.turn("two").end()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    seen["main"] = otel_context.get_current()
    sessions = [s.attributes["session.id"] for s in threadline_capture.spans]
    assert sessions == ["sess_thread", "sess_thread"]
    assert [s.attributes["turn.number"] for s in threadline_capture.spans] == [1, 2]
    threadline.turn("outside").end()  # the main thread has no session
    assert "session.id" not in threadline_capture.spans[-1].attributes


def test_metadata_tags_and_any_attribute(threadline_capture: Capture) -> None:
    with threadline.session("sess_m"), threadline.turn("x", metadata={"plan": "pro"}) as turn:
        turn.set_metadata("experiment", {"arm": "b"}).set_tag("beta").set_tag("region", "eu")
        turn.set_attribute("app.request_id", "r-1")
    attributes = threadline_capture.spans[0].attributes
    assert attributes["turn.metadata.plan"] == "pro"
    assert attributes["turn.metadata.experiment"] == '{"arm":"b"}'
    assert attributes["turn.tag.beta"] is True
    assert attributes["turn.tag.region"] == "eu"
    assert attributes["app.request_id"] == "r-1"


def test_observe_records_calls_of_sync_and_async_functions(threadline_capture: Capture) -> None:
    @threadline.observe(kind="tool")
    def lookup(city: str, units: str = "C") -> dict[str, object]:
        return {"city": city, "temp": 21, "units": units}

    @threadline.observe(name="plan", kind="agent")
    async def plan(goal: str) -> str:
        return f"plan for {goal}"

    @threadline.observe
    def helper(x: int) -> int:
        return x * 2

    with threadline.session("sess_o"), threadline.turn("weather?") as turn:
        assert lookup("Paris") == {"city": "Paris", "temp": 21, "units": "C"}
        assert asyncio.run(plan("trip")) == "plan for trip"
        assert helper(4) == 8
        turn.output("21C")
    spans = {s.name: s for s in threadline_capture.spans}
    tool = spans["lookup"]
    assert tool.attributes["threadline.span.kind"] == "tool"
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"city":"Paris"}'
    assert tool.attributes["gen_ai.tool.call.result"] == '{"city":"Paris","temp":21,"units":"C"}'
    agent = spans["plan"]
    assert agent.attributes["threadline.span.kind"] == "agent"
    assert agent.attributes["gen_ai.agent.name"] == "plan"
    assert agent.attributes["input.value"] == '{"goal":"trip"}'
    assert agent.attributes["output.value"] == "plan for trip"
    assert tool.attributes["gen_ai.tool.name"] == "lookup"
    step = spans["helper"]
    assert step.attributes["threadline.span.kind"] == "span"
    assert step.attributes["output.value"] == "8"
    root = spans["turn"]
    assert root.attributes["turn.tool_calls"] == 1
    assert root.attributes["turn.agent_runs"] == 1
    assert {s.parent.span_id for s in (tool, agent, step)} == {root.context.span_id}


def test_observe_marks_the_span_failed_and_reraises(threadline_capture: Capture) -> None:
    class PaymentDeclined(Exception):
        pass

    @threadline.observe(kind="tool")
    def pay(amount: int) -> None:
        raise PaymentDeclined("card declined")

    with threadline.session("sess_f"), threadline.turn("pay 5") as turn:
        with pytest.raises(PaymentDeclined):
            pay(5)
        turn.output("Your card was declined.")
    tool, root = threadline_capture.snapshot()
    assert tool["status"] == "ERROR: card declined"
    assert tool["attributes"]["error.type"].endswith("PaymentDeclined")
    assert tool["events"][0]["name"] == "exception"
    assert root["status"] == "UNSET"


def test_send_run_records_a_finished_turn(threadline_capture: Capture) -> None:
    start = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
    turn = threadline.send_run(
        session_id="sess_batch",
        user_id="dave",
        input="Summarise my inbox",
        output="3 new mails.",
        start_time=start,
        end_time=start.timestamp() + 4,
        llm_calls=[
            threadline.LLMCallRecord(model="gpt-4o", provider="openai", input_tokens=900, output_tokens=40),
            {"model": "gpt-4o", "provider": "openai", "input_tokens": 1000, "output_tokens": 10, "error": "timeout"},
        ],
        tool_calls=[{"name": "list_mail", "arguments": {"unread": True}, "result": [1, 2, 3]}],
    )
    snapshot = threadline_capture.snapshot()
    base = int(start.timestamp() * 1e9)
    assert [(s["name"], s["start_time"] - base, s["end_time"] - base, s["status"]) for s in snapshot] == [
        ("chat gpt-4o", 0, 1_333_333_333, "UNSET"),
        ("chat gpt-4o", 1_333_333_333, 2_666_666_666, "ERROR: timeout"),
        ("execute_tool list_mail", 2_666_666_666, 3_999_999_999, "UNSET"),
        ("turn", 0, 4_000_000_000, "UNSET"),
    ]
    root = snapshot[-1]["attributes"]
    assert root["turn.latency_ms"] == 4000.0
    assert root["turn.tool_calls"] == 1
    assert root["user.id"] == USER("dave")
    assert root["output.value"] == "3 new mails."
    assert turn.ended
    assert turn.number == 1
