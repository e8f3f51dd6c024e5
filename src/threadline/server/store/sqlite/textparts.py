"""Long strings as parts: pieces kept as they are, and ids of texts stored once (``texts``).

Each attribute (of a span or of an event) whose value is a string of ``texts.MIN_CHARS`` or more is
replaced by parts; joined, they give the value back exactly. A JSON array of messages (or an object
holding one) is cut at its elements (``splitting.pieces``) so that each message is stored once however
many later calls repeat it: its long elements become texts, the rest (brackets, separators, short
elements) is kept. Any other long string is one text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threadline.server.store.sqlite import splitting
from threadline.server.store.sqlite.texts import MIN_CHARS

Intern = Callable[[str], int]
"""Stores a text (in the span's scope) and gives its id."""
Parts = list[str | int]
_JSON_STARTS = ("[", "{")


def parts(value: str, intern: Intern) -> Parts:
    """``value`` as kept strings and text ids."""
    found = splitting.pieces(value) if value.lstrip(" \t\n\r")[:1] in _JSON_STARTS else None
    if found is None:
        return [intern(value)]
    out: Parts = []
    kept: list[str] = []
    for is_element, piece in found:
        if is_element and len(piece) >= MIN_CHARS:
            if kept:
                out.append("".join(kept))
                kept = []
            out.append(intern(piece))
        elif piece:
            kept.append(piece)
    if not out:
        return [intern(value)]
    if kept:
        out.append("".join(kept))
    return out


def extract(attributes: dict[str, Any], intern: Intern) -> tuple[dict[str, Any], dict[str, Parts] | None]:
    """The attributes with their long strings left as 0 (keys keep their order), and those strings as parts
    (None: there were none)."""
    refs: dict[str, Parts] | None = None
    for key, value in attributes.items():
        if type(value) is str and len(value) >= MIN_CHARS:
            if refs is None:
                refs = {}
            refs[key] = parts(value, intern)
    if refs is None:
        return attributes, None
    kept = dict(attributes)
    for key in refs:
        kept[key] = 0
    return kept, refs


def put_back(attributes: dict[str, Any], refs: dict[str, Parts], texts: dict[int, str]) -> None:
    """Put the strings ``extract`` took out back in their places."""
    for key, value in refs.items():
        attributes[key] = "".join(texts[p] if isinstance(p, int) else p for p in value)


def ids(refs: dict[str, Parts]) -> list[int]:
    """The text ids that parts refer to."""
    return [p for value in refs.values() for p in value if isinstance(p, int)]
