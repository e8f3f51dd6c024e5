"""GenAI events sent as OTLP log records are attached to their span, whichever arrives first."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.server import RunningServer

pytestmark = pytest.mark.both_engines


def _spans(trace_id: bytes) -> tuple[bytes, SpanSpec, SpanSpec]:
    root = SpanSpec(trace_id, name="chat_turn", attributes={"session.id": "s-logs", "user.id": "u-1"})
    llm = SpanSpec(
        trace_id,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        start_s=0.1,
        end_s=0.9,
        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"},
    )
    return request(root, llm), root, llm


def _logs(trace_id: bytes, span_id: bytes) -> bytes:
    message = ExportLogsServiceRequest()
    records = message.resource_logs.add().scope_logs.add().log_records
    user = records.add(trace_id=trace_id, span_id=span_id, time_unix_nano=1, event_name="gen_ai.user.message")
    user.body.CopyFrom(
        AnyValue(
            kvlist_value=KeyValueList(
                values=[KeyValue(key="content", value=AnyValue(string_value="Is it sunny in Lyon?"))]
            )
        )
    )
    choice = records.add(trace_id=trace_id, span_id=span_id, time_unix_nano=2, event_name="gen_ai.choice")
    answer = KeyValueList(values=[KeyValue(key="content", value=AnyValue(string_value="Yes, 24°C."))])
    choice.body.CopyFrom(
        AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="message", value=AnyValue(kvlist_value=answer))]))
    )
    records.add(trace_id=trace_id, span_id=span_id, time_unix_nano=3, event_name="app.unrelated")
    return message.SerializeToString()


@pytest.mark.parametrize("logs_first", [False, True], ids=["spans-then-logs", "logs-then-spans"])
def test_turn_text_comes_from_log_events(server: RunningServer, logs_first: bool) -> None:
    trace_id = new_trace_id()
    spans_body, _, llm = _spans(trace_id)
    logs_body = _logs(trace_id, llm.span_id)
    bodies = [("/v1/logs", logs_body), ("/v1/traces", spans_body)]
    with server.client() as client:
        for path, body in bodies if logs_first else reversed(bodies):
            assert client.post(path, content=body, headers=PROTOBUF).status_code == 200
        session = client.get("/api/v1/sessions/s-logs").json()
        trace = client.get(f"/api/v1/traces/{trace_id.hex()}").json()
    assert session["first_input"] == "Is it sunny in Lyon?"
    assert session["last_output"] == "Yes, 24°C."
    assert session["turns"][0]["input"] == "Is it sunny in Lyon?"
    llm_span = trace["spans"][0]["children"][0]
    assert [e["name"] for e in llm_span["events"]] == ["gen_ai.user.message", "gen_ai.choice"]
    assert llm_span["input"] == "Is it sunny in Lyon?"


def test_log_events_sent_twice_are_kept_once(server: RunningServer) -> None:
    trace_id = new_trace_id()
    spans_body, _, llm = _spans(trace_id)
    with server.client() as client:
        client.post("/v1/traces", content=spans_body, headers=PROTOBUF)
        for _ in range(2):
            assert client.post("/v1/logs", content=_logs(trace_id, llm.span_id), headers=PROTOBUF).status_code == 200
        trace = client.get(f"/api/v1/traces/{trace_id.hex()}").json()
    assert len(trace["spans"][0]["children"][0]["events"]) == 2
