"""The conversation every client application in this folder holds, whatever its instrumentation.

Two users, one session each, three turns each: a greeting, a turn with a ``get_weather`` tool call
(two LLM calls around one tool execution), a streamed answer, and a turn whose LLM call fails with an
HTTP 400. Each app supplies ``Hooks`` that create spans the way its library does; the agent logic
below is shared, so every app makes the same calls to the (fake) provider.

Run as ``python APP.py --openai BASE_URL --threadline URL``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are a concise travel assistant."
APOLOGY = "Sorry, I could not answer that."
WEATHER_RESULT = "sunny and 21 degrees"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@dataclass(frozen=True)
class Turn:
    message: str
    stream: bool = False
    tools: bool = False
    fails: bool = False


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str
    turns: tuple[Turn, ...]


SESSIONS = (
    Session(
        "sess-alice",
        "alice",
        (
            Turn("Hi! I am Alice, who are you?"),
            Turn("What is the weather in Paris today?", tools=True),
            Turn("Write a two line poem about rain.", stream=True),
        ),
    ),
    Session(
        "sess-bob",
        "bob",
        (
            Turn("Hello, I am Bob. Can you help me plan a trip?"),
            Turn("Please book a flight for me [error400]", fails=True),
            Turn("Then just recommend a city in Italy.", stream=True),
        ),
    ),
)


def get_weather(city: str) -> str:
    return WEATHER_RESULT


# --- what each instrumentation supplies ----------------------------------------------------------


class TurnSpan:
    def done(self, answer: str) -> None:
        """The assistant's final answer of the turn."""


class LlmSpan:
    def done(self, text: str | None, tool_calls: list[Any], usage: Any, model: str | None) -> None:
        """The call's result (``usage`` as the OpenAI client returned it)."""


class ToolSpan:
    def done(self, result: str) -> None:
        """The tool's result."""


class Hooks:
    """Spans around the app's work. The defaults make none (auto-instrumentation makes the LLM spans)."""

    def client(self, session: Session) -> Any | None:
        """The OpenAI client for this session's calls (``None``: the app's default client)."""
        return None

    def turn(self, session: Session, number: int, message: str) -> AbstractContextManager[TurnSpan]:
        return _nothing(TurnSpan())

    def llm(self, request: dict[str, Any]) -> AbstractContextManager[LlmSpan]:
        return _nothing(LlmSpan())

    def tool(self, name: str, call_id: str, arguments: str) -> AbstractContextManager[ToolSpan]:
        return _nothing(ToolSpan())


@contextmanager
def _nothing(value: Any) -> Iterator[Any]:
    yield value


# --- the agent -----------------------------------------------------------------------------------


def chat(
    client: Any, hooks: Hooks, messages: list[dict[str, Any]], *, stream: bool, tools: bool
) -> tuple[str | None, list[Any]]:
    request: dict[str, Any] = {"model": MODEL, "messages": list(messages)}
    if tools:
        request["tools"] = TOOLS
    if stream:
        request.update(stream=True, stream_options={"include_usage": True})
    with hooks.llm(request) as llm:
        if stream:
            parts: list[str] = []
            usage, model = None, None
            for chunk in client.chat.completions.create(**request):
                model = chunk.model
                usage = chunk.usage or usage
                parts.extend(choice.delta.content for choice in chunk.choices if choice.delta.content)
            text: str | None = "".join(parts)
            tool_calls: list[Any] = []
        else:
            response = client.chat.completions.create(**request)
            message = response.choices[0].message
            text, tool_calls = message.content, list(message.tool_calls or [])
            usage, model = response.usage, response.model
        llm.done(text, tool_calls, usage, model)
    return text, tool_calls


def run_turn(
    client: Any, hooks: Hooks, session: Session, number: int, turn: Turn, history: list[dict[str, Any]]
) -> None:
    import openai

    user = {"role": "user", "content": turn.message}
    with hooks.turn(session, number, turn.message) as root:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *history, user]
        try:
            text, calls = chat(client, hooks, messages, stream=turn.stream, tools=turn.tools)
            if calls:
                messages.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.function.name, "arguments": c.function.arguments},
                            }
                            for c in calls
                        ],
                    }
                )
                for c in calls:
                    with hooks.tool(c.function.name, c.id, c.function.arguments) as tool:
                        result = get_weather(**json.loads(c.function.arguments))
                        tool.done(result)
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": result})
                text, _ = chat(client, hooks, messages, stream=False, tools=True)
            answer = text or ""
        except openai.APIStatusError:
            answer = APOLOGY
        root.done(answer)
    if answer != APOLOGY:
        history.extend([user, {"role": "assistant", "content": answer}])


def run(client: Any, hooks: Hooks) -> None:
    for session in SESSIONS:
        history: list[dict[str, Any]] = []
        session_client = hooks.client(session) or client
        for number, turn in enumerate(session.turns, start=1):
            run_turn(session_client, hooks, session, number, turn, history)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--openai", required=True, help="base URL of the OpenAI-compatible provider (…/v1)")
    parser.add_argument("--threadline", required=True, help="URL of the Threadline server")
    return parser.parse_known_args()[0]  # app-specific flags pass through


def main(setup: Callable[[argparse.Namespace], tuple[Any, Hooks, Callable[[], None]]]) -> None:
    """``setup(args)`` returns (OpenAI client, hooks, flush)."""
    client, hooks, flush = setup(arguments())
    try:
        run(client, hooks)
    finally:
        flush()
