"""One session served by two processes, each with the SDK numbering its own turns 1, 2, 3, against a real
server: every turn is kept, in time order, with its own input, output and tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import threadline
from support.server import RunningServer

_APP = """
import sys
import threadline

name, url = sys.argv[1], sys.argv[2]
threadline.configure(endpoint=url)
with threadline.session(session_id="shared", user_id="u"):
    for number in range(1, 4):
        sys.stdin.readline()  # the test's go-ahead: the two processes take turns
        question = f"{name} question {number}"
        with threadline.turn(input=question) as turn:
            with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
                call.record(input_tokens=100 * number + len(name), output_tokens=number, input=question)
            turn.output(f"{name} answer {number}")
        print(turn.number, flush=True)
print(threadline.flush(timeout=30), flush=True)
threadline.shutdown()
"""


@contextmanager
def _app(name: str, url: str) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "THREADLINE_"))}
    command = [sys.executable, "-c", _APP, name, url]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def _step(process: subprocess.Popen[str]) -> str:
    """Let ``process`` run its next turn; returns what it printed after it."""
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


def _finish(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    flushed = process.stdout.readline().strip()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return flushed


def _turns(session: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (t["turn_number"], t["input"], t["output"], t["input_tokens"], t["output_tokens"]) for t in session["turns"]
    ]


def test_two_processes_sharing_a_session_keep_every_turn(server: RunningServer) -> None:
    with ExitStack() as stack:
        a, b = (stack.enter_context(_app(name, server.url)) for name in ("a", "bb"))
        numbers = [(_step(a), _step(b)) for _ in range(3)]  # a1, b1, a2, b2, a3, b3
        assert (_finish(a), _finish(b)) == ("True", "True")
    assert numbers == [("1", "1"), ("2", "2"), ("3", "3")]
    with server.client() as client:
        session = client.get("/api/v1/sessions/shared").json()
    expected = [
        (position, f"{name} question {n}", f"{name} answer {n}", 100 * n + len(name), n)
        for position, (n, name) in enumerate(((n, name) for n in (1, 2, 3) for name in ("a", "bb")), start=1)
    ]
    assert _turns(session) == expected
    assert session["turn_count"] == 6
    assert session["turn_numbers_rederived"] is True
    assert session["user_id"] == threadline.hash_user_id("u", salt="")
    assert session["input_tokens"] == sum(turn[3] for turn in expected)
    assert session["output_tokens"] == 12
    assert (session["first_input"], session["last_output"]) == ("a question 1", "bb answer 3")
