"""Cutting a JSON text at the edges of its array elements, so that each element can be stored once.

``pieces`` walks the text with ``json.JSONDecoder.raw_decode`` and keeps the positions it reports: the
pieces are consecutive slices of the original text, so joining them gives it back byte for byte
(whitespace, key order, escapes and all). Elements of a top-level array are cut out; so are the
elements of arrays held by a top-level object's members (``{"messages": [...]}``), a few objects deep.
Anything that is not such a JSON text (a scalar, trailing garbage, invalid JSON) gives ``None``.
"""

from __future__ import annotations

import json
import re

Piece = tuple[bool, str]
"""(is an array element, the slice of the original text)."""

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"
_SPACES = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*(?:(\])|,[ \t\n\r]*)")
"""After an array element: its closing bracket, or a comma and the spaces before the next element."""
MAX_OBJECT_DEPTH = 2
"""How many objects deep arrays are still cut into elements (``{"input": {"messages": [...]}}``)."""


class _NotSplittable(Exception):
    pass


def pieces(text: str) -> list[Piece] | None:
    """``text`` as consecutive slices, array elements marked; None when it holds no array to cut."""
    start = _skip(text, 0)
    if start >= len(text) or not _could_split(text, text[start]):
        return None
    out: list[Piece] = [(False, text[:start])] if start else []
    try:
        end = _container(text, start, out, 0)
    except (_NotSplittable, ValueError, RecursionError):
        return None
    finished = _finished(text, end, out)
    return finished if finished is not None and any(element for element, _ in finished) else None


def resume(text: str, pos: int) -> list[Piece] | None:
    """The pieces of ``text`` from ``pos``, which ends an element of a top-level array (the elements before
    are known from an earlier text that began the same way); None when the rest does not end that array."""
    out: list[Piece] = []
    try:
        end, closed = _separator(text, pos, out)
        if not closed:
            end = _elements(text, end, out)
    except (_NotSplittable, ValueError, RecursionError):
        return None
    return _finished(text, end, out)


def _finished(text: str, end: int, out: list[Piece]) -> list[Piece] | None:
    """``out`` with the spaces after the JSON value; None when something else follows it."""
    if text[end:].strip(_WHITESPACE):
        return None
    if end < len(text):
        out.append((False, text[end:]))
    return out


def _could_split(text: str, first: str) -> bool:
    """Cheap tests first: the text ends as it starts, and an object holds an array."""
    last = text.rstrip(_WHITESPACE)[-1:]
    return (first == "[" and last == "]") or (first == "{" and last == "}" and "[" in text)


def _skip(text: str, pos: int) -> int:
    if pos < len(text) and text[pos] in _WHITESPACE:
        return _SPACES.match(text, pos).end()  # type: ignore[union-attr]
    return pos


def _container(text: str, pos: int, out: list[Piece], depth: int) -> int:
    """Split the array or object at ``pos`` into ``out``; returns where it ends."""
    if text[pos] == "[":
        return _array(text, pos, out)
    return _object(text, pos, out, depth)


def _array(text: str, pos: int, out: list[Piece]) -> int:
    literal_start = pos
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        out.append((False, text[literal_start : pos + 1]))
        return pos + 1
    out.append((False, text[literal_start:pos]))
    return _elements(text, pos, out)


def _elements(text: str, pos: int, out: list[Piece]) -> int:
    """The elements from ``pos`` (where one starts) to the array's end, and the separators between."""
    while True:
        _, end = _DECODER.raw_decode(text, pos)
        out.append((True, text[pos:end]))
        pos, closed = _separator(text, end, out)
        if closed:
            return pos


def _separator(text: str, end: int, out: list[Piece]) -> tuple[int, bool]:
    """The separator after the element ending at ``end``: where what follows starts, and whether that is
    after the array's closing bracket."""
    separator = _SEPARATOR.match(text, end)
    if separator is None:
        raise _NotSplittable
    out.append((False, text[end : separator.end()]))
    return separator.end(), separator.group(1) == "]"


def _object(text: str, pos: int, out: list[Piece], depth: int) -> int:
    literal_start = pos
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "}":
        out.append((False, text[literal_start : pos + 1]))
        return pos + 1
    while True:
        if pos >= len(text) or text[pos] != '"':
            raise _NotSplittable
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if pos >= len(text) or text[pos] != ":":
            raise _NotSplittable
        pos = _skip(text, pos + 1)
        if pos < len(text) and (text[pos] == "[" or (text[pos] == "{" and depth < MAX_OBJECT_DEPTH)):
            out.append((False, text[literal_start:pos]))
            pos = _container(text, pos, out, depth + 1)
            literal_start = pos
        else:
            _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if pos >= len(text):
            raise _NotSplittable
        if text[pos] == "}":
            out.append((False, text[literal_start : pos + 1]))
            return pos + 1
        if text[pos] != ",":
            raise _NotSplittable
        pos = _skip(text, pos + 1)
