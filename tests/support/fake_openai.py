"""A small, deterministic OpenAI-compatible server on loopback, for real client libraries in tests.

``POST /v1/chat/completions`` answers like OpenAI does, with ``usage``:

- non-streaming: one ``chat.completion`` object;
- streaming (``"stream": true``): Server-Sent Events, one chunk per word, then a chunk with the
  finish reason, then (with ``stream_options.include_usage``) a last chunk with no choices and the
  usage, then ``data: [DONE]``;
- when the request offers tools and the last message is the user asking about the weather, a
  ``get_weather`` tool call (``finish_reason: tool_calls``); after a ``tool`` message, an answer built
  from the tool's result;
- ``[error400]`` / ``[error500]`` in the last user message: an OpenAI-shaped error with that status.

Token counts are a pure function of the request (words plus a per-message overhead; whole 64-token
blocks of the prompt but the last are reported as cached), and every call
is recorded in ``FakeOpenAI.calls`` so that tests compare what a server shows with what the
"provider" reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESPONSE_MODEL_SUFFIX = "-2024-07-18"
"""OpenAI answers with a dated model name (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``)."""
WEATHER_ARGUMENTS = '{"city": "Paris"}'


@dataclass
class Call:
    """One request the fake provider answered."""

    user_message: str
    stream: bool
    status: int
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    tool_call: bool = False
    answer: str | None = None
    usage_reported: bool = False


@dataclass
class FakeOpenAI:
    url: str
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` takes."""
        return f"{self.url}/v1"

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def count_tokens(messages: list[dict[str, Any]], tools: list[Any] | None) -> int:
    """Deterministic stand-in for a tokenizer: words, plus 4 per message and 20 per tool."""
    total = 3
    for message in messages:
        total += 4 + len(_text(message.get("content")).split())
        for call in message.get("tool_calls") or []:
            total += 6 + len(str(call.get("function", {}).get("arguments", "")).split())
    return total + 20 * len(tools or [])


def last_user_message(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def reply_to(messages: list[dict[str, Any]]) -> str:
    """The assistant's answer: a function of the conversation only."""
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return f"It is {_text(last.get('content'))} in Paris right now."
    question = last_user_message(messages)
    words = question.rstrip("?!.").split()
    topic = " ".join(words[-3:]) if words else "that"
    return f"Here is my answer about {topic}. Anything else?"


def cached_tokens(prompt_tokens: int) -> int:
    """Prompt caching in 64-token blocks: every whole block before the last token was seen before."""
    return 64 * ((prompt_tokens - 1) // 64)


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached_tokens(prompt), "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": f"unknown path {self.path}", "type": "invalid_request_error"}})
            return
        self._chat(body)

    def _chat(self, body: dict[str, Any]) -> None:
        messages: list[dict[str, Any]] = body.get("messages") or []
        tools = body.get("tools")
        model = str(body.get("model") or "gpt-4o-mini")
        stream = bool(body.get("stream"))
        question = last_user_message(messages)
        for marker, status, kind in (
            ("[error400]", 400, "invalid_request_error"),
            ("[error500]", 500, "server_error"),
        ):
            if marker in question:
                self.server.fake.record(Call(question, stream, status, model))
                self._json(status, {"error": {"message": f"Simulated {status} error", "type": kind, "code": None}})
                return
        prompt_tokens = count_tokens(messages, tools)
        last_role = messages[-1].get("role") if messages else None
        wants_tool = bool(tools) and last_role == "user" and "weather" in question.lower()
        answer = None if wants_tool else reply_to(messages)
        completion_tokens = 12 if wants_tool else len((answer or "").split())
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        call = Call(
            question,
            stream,
            200,
            model,
            prompt_tokens,
            completion_tokens,
            cached_tokens(prompt_tokens),
            tool_call=wants_tool,
            answer=answer,
            usage_reported=include_usage or not stream,
        )
        self.server.fake.record(call)
        response_model = model + RESPONSE_MODEL_SUFFIX if not model.endswith(RESPONSE_MODEL_SUFFIX) else model
        number = len(self.server.fake.calls)
        if stream:
            self._stream(number, response_model, answer, wants_tool, _usage(prompt_tokens, completion_tokens), call)
            return
        message: dict[str, Any] = {"role": "assistant", "content": answer, "refusal": None}
        if wants_tool:
            message["tool_calls"] = [_tool_call(number)]
        self._json(
            200,
            {
                "id": f"chatcmpl-{number:04d}",
                "object": "chat.completion",
                "created": 1_800_000_000 + number,
                "model": response_model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": "tool_calls" if wants_tool else "stop",
                    }
                ],
                "usage": _usage(prompt_tokens, completion_tokens),
                "system_fingerprint": "fp_fake",
            },
        )

    def _stream(
        self, number: int, model: str, answer: str | None, wants_tool: bool, usage: dict[str, Any], call: Call
    ) -> None:
        base = {
            "id": f"chatcmpl-{number:04d}",
            "object": "chat.completion.chunk",
            "created": 1_800_000_000 + number,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        chunks: list[dict[str, Any]] = [{"index": 0, "delta": {"role": "assistant", "content": ""}}]
        if wants_tool:
            chunks.append({"index": 0, "delta": {"tool_calls": [{"index": 0, **_tool_call(number)}]}})
        else:
            words = (answer or "").split(" ")
            chunks.extend(
                {"index": 0, "delta": {"content": word if i == 0 else " " + word}} for i, word in enumerate(words)
            )
        chunks.append({"index": 0, "delta": {}, "finish_reason": "tool_calls" if wants_tool else "stop"})
        events = [{**base, "choices": [choice]} for choice in chunks]
        if call.usage_reported:
            events.append({**base, "choices": [], "usage": usage})
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _tool_call(number: int) -> dict[str, Any]:
    return {
        "id": f"call_{number:04d}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": WEATHER_ARGUMENTS},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI


@contextmanager
def run_fake_openai() -> Iterator[FakeOpenAI]:
    """The fake provider on a free loopback port, in a thread of this process."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeOpenAI(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
