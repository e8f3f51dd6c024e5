"""A project's privacy, end to end: set over the API or the command line, applied by the real server to what
arrives over OTLP/HTTP (spans and GenAI log events), before anything reaches the database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from support import server as servers
from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.server import RunningServer, run_server
from threadline import hash_user_id
from threadline.server.cli.main import main as cli
from threadline.server.store.clickhouse import connection
from threadline.server.store.sqlite import compress

pytestmark = pytest.mark.both_engines

OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
EMAIL = "maria.lopez@example.com"
ORDER = "ORD-88231"
SECRET_TEXT = f"I am {EMAIL}, my key is {OPENAI_KEY}, order {ORDER}. Where is it?"
ANSWER = "Order ORD-88231 ships tomorrow; we wrote to maria.lopez@example.com."
CONVENTIONS: dict[str, dict[str, Any]] = {
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": SECRET_TEXT,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": ANSWER,
        "llm.token_count.prompt": 40,
        "llm.token_count.completion": 12,
    },
    "openllmetry": {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": SECRET_TEXT,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": ANSWER,
        "gen_ai.usage.prompt_tokens": 40,
        "gen_ai.usage.completion_tokens": 12,
    },
    "genai": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": f'[{{"role": "user", "parts": [{{"type": "text", "content": "{SECRET_TEXT}"}}]}}]',
        "gen_ai.output.messages": f'[{{"role": "assistant", "parts": [{{"type": "text", "content": "{ANSWER}"}}]}}]',
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 12,
    },
    "langfuse": {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-mini",
        "langfuse.observation.input": f'[{{"role": "user", "content": "{SECRET_TEXT}"}}]',
        "langfuse.observation.output": f'{{"role": "assistant", "content": "{ANSWER}"}}',
        "langfuse.observation.usage_details": '{"input": 40, "output": 12}',
    },
    "logfire": {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "request_data": f'{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "{SECRET_TEXT}"}}]}}',
        "response_data": f'{{"message": {{"role": "assistant", "content": "{ANSWER}"}}}}',
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 12,
    },
}


def turn(session_id: str, convention: str, user_id: str = "u-1") -> tuple[bytes, bytes]:
    """A turn whose LLM call speaks ``convention``, with secrets in its texts: (the request, its trace id)."""
    trace_id = new_trace_id()
    root = SpanSpec(
        trace_id,
        name="turn",
        end_s=2,
        attributes={"session.id": session_id, "user.id": user_id, "input.value": SECRET_TEXT, "output.value": ANSWER},
    )
    llm = SpanSpec(
        trace_id, parent_span_id=root.span_id, name="chat gpt-4o-mini", start_s=0.5, end_s=1.5,
        attributes=CONVENTIONS[convention],
    )  # fmt: skip
    return request(root, llm), trace_id


def stored_text(data_dir: Path) -> str:
    """Everything stored for ``data_dir``'s server, as text: on SQLite every byte of the database (main file and
    write-ahead log, after a checkpoint); on ClickHouse every value of every row of every table of its
    database (the engine compresses its files, so the bytes on disk would hide what they hold)."""
    if servers.engine == "clickhouse":
        return clickhouse_text(servers.clickhouse_url(data_dir))
    with sqlite3.connect(data_dir / "threadline.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        unpacked = [
            compress.unpack(value[9:] if value[0] == compress.COMPOSITE else value).decode("utf-8", "replace")
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            for row in conn.execute(f"SELECT * FROM {table}")
            for value in row
            if isinstance(value, bytes) and value[:1] in _PACKED
        ]
    files = b"".join(p.read_bytes() for p in data_dir.glob("threadline.db*")).decode("utf-8", "replace")
    return "\n".join([files, *unpacked])


_PACKED = {bytes((m,)) for m in (compress.RAW, compress.ZSTD, compress.ZSTD_DICT_1, compress.COMPOSITE)}
"""The markers of a compressed span body, trace fold or text (the SQLite engine's ``compress.pack``), and of
a composite text (an id, then what surrounds that text, packed)."""


def clickhouse_text(url: str) -> str:
    conn = connection.acquire(url)
    try:
        tables = conn.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        return "\n".join(_text(conn.query(f"SELECT * FROM {name}")) for (name,) in tables)
    finally:
        connection.release(conn)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return "\t".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(f"{_text(k)}\t{_text(v)}" for k, v in value.items())
    return str(value)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[RunningServer]:
    with run_server(data_dir) as running:
        yield running


def configure(client: httpx.Client, project: str = "default", **change: Any) -> dict[str, Any]:
    answer = client.patch(f"/api/v1/projects/{project}", json=change)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def send(client: httpx.Client, body: bytes, project: str | None = None) -> None:
    headers = PROTOBUF | ({"X-Threadline-Project": project} if project else {})
    answer = client.post("/v1/traces", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def test_secrets_are_redacted_by_default_in_every_convention_and_never_reach_the_file(
    server: RunningServer, data_dir: Path
) -> None:
    with server.client() as client:
        assert client.get("/api/v1/projects").json()[0]["redact_secrets"] is True
        traces = {}
        for convention in CONVENTIONS:
            body, trace_id = turn(f"s-{convention}", convention)
            send(client, body)
            traces[convention] = client.get(f"/api/v1/traces/{trace_id.hex()}").json()
        session = client.get("/api/v1/sessions/s-genai").json()
    for convention, trace in traces.items():
        llm = trace["spans"][0]["children"][0]
        shown = str(llm["attributes"]) + str(llm["input"]) + str(llm["output"])
        assert "[redacted:email]" in shown, convention
        assert "[redacted:openai_key]" in shown, convention
        assert llm["input_tokens"] == 40, convention  # the measures are kept
    assert "[redacted:openai_key]" in session["first_input"]
    assert "ORD-88231" in session["first_input"]  # not a secret unless the project says so
    text = stored_text(data_dir)
    assert OPENAI_KEY not in text
    assert EMAIL not in text
    assert ORDER in text  # what is kept is there to be seen
    assert "[redacted:openai_key]" in text


def test_project_patterns_and_a_policy_change_apply_to_what_arrives_next(server: RunningServer) -> None:
    with server.client() as client:
        send(client, turn("s-before", "openinference")[0])
        body = configure(client, redact_patterns=[r"ORD-\d+"])
        assert body["redact_patterns"] == [r"ORD-\d+"]
        send(client, turn("s-after", "openinference")[0])
        before = client.get("/api/v1/sessions/s-before").json()["first_input"]
        after = client.get("/api/v1/sessions/s-after").json()["first_input"]
    assert ORDER in before  # stored before the change: not rewritten
    assert ORDER not in after
    assert "[redacted:pattern]" in after


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_policy_none_keeps_no_text_and_keeps_the_counts(server: RunningServer, convention: str) -> None:
    with server.client() as client:
        configure(client, content_policy="none")
        body, trace_id = turn("s-none", convention)
        send(client, body)
        session = client.get("/api/v1/sessions/s-none").json()
        llm = client.get(f"/api/v1/traces/{trace_id.hex()}").json()["spans"][0]["children"][0]
    assert "maria" not in str(session) + str(llm)
    assert "ships tomorrow" not in str(session) + str(llm)
    assert session["input_tokens"] == 40
    assert session["output_tokens"] == 12
    assert session["llm_call_count"] == 1
    assert session["turn_count"] == 1


def test_policy_truncated_keeps_the_start_marked(server: RunningServer) -> None:
    with server.client() as client:
        configure(client, content_policy="truncated", content_max_chars=10)
        send(client, turn("s-cut", "genai")[0])
        session = client.get("/api/v1/sessions/s-cut").json()
    assert session["first_input"].startswith(SECRET_TEXT[:10])
    assert "truncated by policy" in session["first_input"]
    assert OPENAI_KEY not in str(session)


def test_each_project_keeps_its_own_policy(server: RunningServer) -> None:
    with server.client() as client:
        assert client.post("/api/v1/projects", json={"name": "lab"}).status_code == 200
        configure(client, "lab", content_policy="none", redact_secrets=False)
        send(client, turn("s-default", "openllmetry")[0])
        send(client, turn("s-lab", "openllmetry")[0], project="lab")
        default = client.get("/api/v1/sessions/s-default").json()["first_input"]
        lab = client.get("/api/v1/sessions/s-lab", headers={"X-Threadline-Project": "lab"}).json()["first_input"]
    assert "[redacted:email]" in default
    assert "maria" not in str(lab)


def test_log_events_go_through_the_policy(server: RunningServer, data_dir: Path) -> None:
    trace_id = new_trace_id()
    root = SpanSpec(trace_id, name="turn", attributes={"session.id": "s-logs"})
    llm = SpanSpec(trace_id, parent_span_id=root.span_id, name="chat", attributes={"gen_ai.operation.name": "chat"})
    message = ExportLogsServiceRequest()
    record = (
        message.resource_logs.add()
        .scope_logs.add()
        .log_records.add(trace_id=trace_id, span_id=llm.span_id, time_unix_nano=1, event_name="gen_ai.user.message")
    )
    content = KeyValue(key="content", value=AnyValue(string_value=SECRET_TEXT))
    record.body.CopyFrom(AnyValue(kvlist_value=KeyValueList(values=[content])))
    with server.client() as client:
        assert client.post("/v1/logs", content=message.SerializeToString(), headers=PROTOBUF).status_code == 200
        send(client, request(root, llm))
        session = client.get("/api/v1/sessions/s-logs").json()
    assert "[redacted:email]" in session["first_input"]
    assert EMAIL not in stored_text(data_dir)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"redact_patterns": ["(unclosed"]}, "not a valid regular expression"),
        ({"redact_patterns": ["a*"]}, "matches the empty string"),
        ({"content_policy": "some"}, "content_policy"),
        ({"content_max_chars": 0}, "content_max_chars"),
        ({"retention_days": 0}, "retention_days"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(server: RunningServer, change: dict[str, Any], says: str) -> None:
    with server.client() as client:
        before = client.get("/api/v1/projects").json()
        answer = client.patch("/api/v1/projects/default", json=change)
        after = client.get("/api/v1/projects").json()
    assert answer.status_code in (400, 422), answer.text
    assert says in answer.text
    assert after == before


def test_an_unknown_project_is_404(server: RunningServer) -> None:
    with server.client() as client:
        answer = client.patch("/api/v1/projects/nope", json={"content_policy": "none"})
    assert answer.status_code == 404


def store_options(data_dir: Path) -> list[str]:
    """The command line's options that name the store of ``data_dir``'s server."""
    if servers.engine == "clickhouse":
        return ["--clickhouse-url", servers.clickhouse_url(data_dir)]
    return ["--data-dir", str(data_dir)]


def test_projects_set_on_the_command_line(data_dir: Path) -> None:
    with run_server(data_dir):
        pass  # creates the database
    runner = CliRunner()
    args = ["projects", "set", "default", *store_options(data_dir)]
    done = runner.invoke(cli, [*args, "--content-policy", "truncated", "--content-max-chars", "80",
                               "--redact-pattern", r"ORD-\d+", "--retention-days", "30"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "content truncated (80 characters)" in done.output
    assert "1 own patterns" in done.output
    assert "retention 30 days" in done.output
    listed = runner.invoke(cli, ["projects", "list", *store_options(data_dir)])
    assert "truncated" in listed.output
    assert "30 days" in listed.output
    forever = runner.invoke(cli, [*args, "--keep-forever", "--no-redact-patterns"])
    assert "retention kept" in forever.output
    assert "0 own patterns" in forever.output
    refused = runner.invoke(cli, [*args, "--redact-pattern", "(oops"])
    assert refused.exit_code != 0
    assert "not a valid regular expression" in refused.output
    nothing = runner.invoke(cli, args)
    assert nothing.exit_code == 2
    assert "nothing to change" in nothing.output


def test_hash_user_ids_makes_plain_otel_users_agree_with_the_sdk(data_dir: Path) -> None:
    with run_server(data_dir, hash_user_ids=True, user_id_salt="team-salt") as server, server.client() as client:
        send(client, turn("s-clear", "genai", user_id=EMAIL)[0])
        sdk_form = hash_user_id(EMAIL, salt="team-salt")
        send(client, turn("s-sdk", "genai", user_id=sdk_form)[0])
        users = client.get("/api/v1/users").json()["users"]
        found = client.get(f"/api/v1/users/{EMAIL}")  # looked up as given: found under its hash
    assert [u["user_id"] for u in users] == [sdk_form]
    assert users[0]["session_count"] == 2
    assert found.status_code == 200
    assert EMAIL not in stored_text(data_dir)
