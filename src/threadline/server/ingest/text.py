"""Pull the human-readable message out of the many shapes conventions use for prompts and answers.

Pure functions over plain values: chat message lists (OTel GenAI ``parts`` or OpenAI ``content``),
OpenAI request/response bodies, OpenInference flattened ``llm.input_messages.{i}.message.*`` keys,
OpenLLMetry ``gen_ai.prompt.{i}.*`` keys and traceloop ``{"args": ..., "kwargs": ...}`` entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

_USER_ROLES = frozenset({"user", "human"})
_ASSISTANT_ROLES = frozenset({"assistant", "ai", "model", "bot"})
_ENTITY_TEXT_KEYS = ("message", "user_message", "input", "query", "question", "prompt", "text", "content")


def as_text(value: Any) -> str | None:
    """A value as text: strings unchanged, arrays and kvlists as JSON; empty means absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # nested past the encoder's limit (parsed from a client's JSON text)
        return None


def parse_json(value: str) -> Any:
    """Parse a JSON-looking string; anything else (or invalid JSON) comes back as ``None``."""
    if not value or value[0] not in "[{":
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def message_content(message: Any) -> str | None:
    """The text of one chat message in any of the common shapes."""
    if not isinstance(message, Mapping):
        return as_text(message)
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [p.get("content") for p in parts if isinstance(p, Mapping) and p.get("type", "text") == "text"]
        joined = "\n".join(t for t in texts if isinstance(t, str) and t)
        return joined or None
    content = message.get("content")
    if isinstance(content, list):  # OpenAI / Anthropic content blocks
        texts = [c.get("text") for c in content if isinstance(c, Mapping)]
        joined = "\n".join(t for t in texts if isinstance(t, str) and t)
        return joined or None
    return as_text(content)


def last_message(messages: Any, roles: frozenset[str]) -> str | None:
    """The text of the last message whose role is in ``roles`` (or of a bare string)."""
    if isinstance(messages, str):
        return messages or None
    if isinstance(messages, Mapping):
        inner = messages.get("messages")
        if isinstance(inner, list):
            return last_message(inner, roles)
        role = messages.get("role")
        return message_content(messages) if isinstance(role, str) and role in roles else None
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if isinstance(role, str) and role.lower() in roles:
            text = message_content(message)
            if text:
                return text
    return None


def user_text_from_json(value: str) -> str:
    """The last user message of a JSON chat request or message list; the value itself otherwise."""
    doc = parse_json(value)
    if doc is None:
        return value
    return last_message(doc, _USER_ROLES) or value


def assistant_text_from_json(value: str) -> str:
    """The final assistant message of a JSON chat response or message list; the value otherwise."""
    doc = parse_json(value)
    if doc is None:
        return value
    if isinstance(doc, Mapping) and isinstance(doc.get("choices"), list) and doc["choices"]:
        choice = doc["choices"][-1]
        if isinstance(choice, Mapping):
            text = message_content(choice.get("message")) or as_text(choice.get("text"))
            if text:
                return text
    return last_message(doc, _ASSISTANT_ROLES) or value


def user_messages(messages: Any) -> str | None:
    return last_message(messages, _USER_ROLES)


def assistant_messages(messages: Any) -> str | None:
    return last_message(messages, _ASSISTANT_ROLES)


def indexed_messages(attributes: Mapping[str, Any], prefix: str, role_suffix: str) -> list[dict[str, Any]]:
    """Rebuild ``prefix{i}.<role_suffix>`` / ``...content`` flattened keys into an ordered list."""
    by_index: dict[int, dict[str, Any]] = {}
    plen = len(prefix)
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        index_text, _, rest = key[plen:].partition(".")
        if not (index_text.isascii() and index_text.isdigit()):
            continue
        slot = by_index.setdefault(int(index_text), {})
        if rest == role_suffix + "role":
            slot["role"] = value
        elif rest == role_suffix + "content":
            slot["content"] = value
        elif rest.startswith(role_suffix + "contents.") and rest.endswith(".text"):
            slot.setdefault("content", value)
    return [by_index[i] for i in sorted(by_index)]


def entity_text(value: str) -> str:
    """traceloop ``{"args": [...], "kwargs": {...}}``: the one obvious text argument, else the JSON.

    traceloop JSON-encodes every value, so a plain string result arrives quoted (``"\"text\""``).
    """
    if value[:1] == '"':
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
        return decoded if isinstance(decoded, str) and decoded else value
    doc = parse_json(value)
    if not isinstance(doc, Mapping):
        return value
    kwargs = doc.get("kwargs")
    args = doc.get("args")
    candidates: list[Any] = []
    if isinstance(kwargs, Mapping):
        for key in _ENTITY_TEXT_KEYS:
            if isinstance(kwargs.get(key), str) and kwargs[key]:
                return str(kwargs[key])
        candidates.extend(v for v in kwargs.values() if isinstance(v, str))
    if isinstance(args, list):
        candidates.extend(v for v in args if isinstance(v, str))
    if len(candidates) == 1:
        return str(candidates[0])
    text = last_message(doc, _USER_ROLES) if "messages" in doc else None
    return text or value
