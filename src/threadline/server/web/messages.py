"""A span's input and output as chat messages (role, text), whatever convention carried them. Pure.

The server already resolves one input text and one output text per span (``ingest.normalize``); the span
view shows the whole exchange instead: system instructions, every message, tool calls and results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from threadline.server.ingest.text import as_text, indexed_messages, message_content, parse_json

_INPUT_EVENTS = ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.content.prompt")
_OUTPUT_EVENTS = ("gen_ai.choice", "gen_ai.content.completion")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


def input_messages(span: Mapping[str, Any]) -> list[Message]:
    attributes: Mapping[str, Any] = span.get("attributes", {})
    found = _system_instructions(attributes)
    for key in ("gen_ai.input.messages", "input.value", "langfuse.observation.input"):
        messages = _message_list(attributes.get(key))
        if messages:
            return found + messages
    for prefix, suffix in (("llm.input_messages.", "message."), ("gen_ai.prompt.", "")):
        messages = _as_messages(indexed_messages(attributes, prefix, suffix))
        if messages:
            return found + messages
    from_events = _event_messages(
        span, ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.content.prompt"), "input"
    )
    if from_events:
        return found + from_events
    return found + _fallback(span, "input", "arguments" if span.get("category") == "tool" else "input")


def output_messages(span: Mapping[str, Any]) -> list[Message]:
    attributes: Mapping[str, Any] = span.get("attributes", {})
    for key in ("gen_ai.output.messages", "output.value", "langfuse.observation.output"):
        messages = _message_list(attributes.get(key))
        if messages:
            return messages
    for prefix, suffix in (("llm.output_messages.", "message."), ("gen_ai.completion.", "")):
        messages = _as_messages(indexed_messages(attributes, prefix, suffix))
        if messages:
            return messages
    from_events = _event_messages(span, _OUTPUT_EVENTS, "output")
    if from_events:
        return from_events
    return _fallback(span, "output", "result" if span.get("category") == "tool" else "output")


def _system_instructions(attributes: Mapping[str, Any]) -> list[Message]:
    value = attributes.get("gen_ai.system_instructions")
    if value in (None, ""):
        return []
    doc = parse_json(value) if isinstance(value, str) else value
    if isinstance(doc, list):
        joined = "\n".join(filter(None, (message_content(part) or as_text(part) for part in doc)))
        return [Message("system", joined)] if joined else []
    text = as_text(value)
    return [Message("system", text)] if text else []


def _message_list(value: Any) -> list[Message]:
    """A JSON chat message list, a request body holding ``messages``, or a response with ``choices``."""
    doc = parse_json(value) if isinstance(value, str) else value
    if isinstance(doc, Mapping):
        if isinstance(doc.get("messages"), list):
            doc = doc["messages"]
        elif isinstance(doc.get("choices"), list):
            doc = [c.get("message") for c in doc["choices"] if isinstance(c, Mapping)]
    if not isinstance(doc, list) or not all(isinstance(m, Mapping) and "role" in m for m in doc if m is not None):
        return []
    return _as_messages([m for m in doc if m is not None])


def _as_messages(raw: Sequence[Mapping[str, Any]]) -> list[Message]:
    messages = []
    for message in raw:
        content = message_content(message) or _tool_calls(message)
        if content:
            messages.append(Message(str(message.get("role") or "message"), content))
    return messages


def _tool_calls(message: Mapping[str, Any]) -> str | None:
    """A message that only calls tools (OpenAI ``tool_calls``, GenAI ``tool_call`` parts), as text."""
    calls = []
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            function = call["function"] if isinstance(call.get("function"), Mapping) else call
            calls.append(f"→ {function.get('name', 'tool')}({as_text(function.get('arguments')) or ''})")
    for part in message.get("parts") or ():
        if isinstance(part, Mapping) and part.get("type") == "tool_call":
            calls.append(f"→ {part.get('name', 'tool')}({as_text(part.get('arguments')) or ''})")
        elif isinstance(part, Mapping) and part.get("type") == "tool_call_response":
            calls.append(f"← {as_text(part.get('response') or part.get('result')) or ''}")
    return "\n".join(calls) or None


def _event_messages(span: Mapping[str, Any], names: tuple[str, ...], side: str) -> list[Message]:
    messages: list[Message] = []
    for event in span.get("events", ()):
        attributes = event.get("attributes", {})
        if event.get("name") == "gen_ai.client.inference.operation.details":
            messages += _message_list(attributes.get(f"gen_ai.{side}.messages"))
        elif event.get("name") in names:
            text = as_text(attributes.get("content") or attributes.get("gen_ai.prompt") or attributes.get("message"))
            role = str(attributes.get("role") or event["name"].removeprefix("gen_ai.").split(".")[0])
            if text:
                messages.append(Message(role, text))
    return messages


def _fallback(span: Mapping[str, Any], key: str, role: str) -> list[Message]:
    text = span.get(key)
    return [Message(role, text)] if isinstance(text, str) and text else []
