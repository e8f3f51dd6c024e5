"""Text and chat messages as the SDK writes them: plain text, JSON, and the OTel GenAI "parts" format."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.util.types import AttributeValue

_PRIMITIVES = (str, bool, int, float)


def to_text(value: Any) -> str:
    """Strings unchanged; anything else as compact JSON (``str()`` for what JSON cannot encode)."""
    if isinstance(value, str):
        return value
    try:
        return _JSON.encode(value)
    except (TypeError, ValueError):
        return str(value)


def _fallback(value: Any) -> Any:
    for method in ("model_dump", "dict", "to_dict"):  # pydantic and friends
        dump = getattr(value, method, None)
        if callable(dump):
            try:
                return dump()
            except Exception:
                break
    return str(value)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_fallback)
"""One encoder for every value (``json.dumps`` with options makes a new one per call); it keeps no state
between calls, so threads may share it."""


def attribute_value(value: Any) -> AttributeValue:
    """A value OpenTelemetry accepts as an attribute: primitives and homogeneous lists kept, the rest JSON."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return to_text(value)


def _parts_message(role: str, content: Any) -> dict[str, Any]:
    if isinstance(content, list):  # content blocks (OpenAI / Anthropic): keep the text ones
        parts = [
            {"type": "text", "content": block.get("text", "")}
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        ]
        return {"role": role, "parts": parts}
    return {"role": role, "parts": [{"type": "text", "content": to_text(content)}]}


def input_messages(value: Any) -> str:
    """``gen_ai.input.messages``: a string is one user message; a list of ``{"role", "content"}`` dicts is
    converted to the GenAI parts format (messages already in that format are kept)."""
    if isinstance(value, str):
        return to_text([_parts_message("user", value)])
    return to_text(_messages(value, default_role="user"))


def output_messages(value: Any, finish_reason: str | None = None) -> str:
    """``gen_ai.output.messages``: a string is one assistant message."""
    if isinstance(value, str):
        message = _parts_message("assistant", value)
        message["finish_reason"] = finish_reason or "stop"
        return to_text([message])
    return to_text(_messages(value, default_role="assistant"))


def _messages(value: Any, *, default_role: str) -> list[Any]:
    items: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
    messages: list[Any] = []
    for item in items:
        if isinstance(item, Mapping):
            if "parts" in item:
                messages.append(dict(item))
            else:
                role = str(item.get("role") or default_role)
                messages.append(_parts_message(role, item.get("content", "")))
        else:
            messages.append(_parts_message(default_role, item))
    return messages
