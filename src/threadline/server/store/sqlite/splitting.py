"""Cutting a JSON text at the edges of its array elements, so that each element can be stored once.

``pieces`` walks the text with ``json.JSONDecoder.raw_decode`` and keeps the positions it reports: the
pieces are consecutive slices of the original text, so joining them gives it back byte for byte
(whitespace, key order, escapes and all). Elements of a top-level array are cut out; so are the
elements of arrays held by a top-level object's members (``{"messages": [...]}``), a few objects deep.
Anything that is not such a JSON text (a scalar, trailing garbage, invalid JSON) gives ``None``.
"""

from __future__ import annotations

import json

Piece = tuple[bool, str]
"""(is an array element, the slice of the original text)."""

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"
MAX_OBJECT_DEPTH = 2
"""How many objects deep arrays are still cut into elements (``{"input": {"messages": [...]}}``)."""


class _NotSplittable(Exception):
    pass


def pieces(text: str) -> list[Piece] | None:
    """``text`` as consecutive slices, array elements marked; None when it holds no array to cut."""
    start = _skip(text, 0)
    if start >= len(text) or text[start] not in "[{":
        return None
    out: list[Piece] = [(False, text[:start])] if start else []
    try:
        end = _container(text, start, out, 0)
    except (_NotSplittable, ValueError, RecursionError):
        return None
    if text[end:].strip(_WHITESPACE):
        return None
    if end < len(text):
        out.append((False, text[end:]))
    if not any(element for element, _ in out):
        return None
    return out


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
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
    while True:
        _, end = _DECODER.raw_decode(text, pos)
        out.append((False, text[literal_start:pos]))
        out.append((True, text[pos:end]))
        literal_start = end
        pos = _skip(text, end)
        if pos >= len(text):
            raise _NotSplittable
        if text[pos] == "]":
            out.append((False, text[literal_start : pos + 1]))
            return pos + 1
        if text[pos] != ",":
            raise _NotSplittable
        pos = _skip(text, pos + 1)


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
