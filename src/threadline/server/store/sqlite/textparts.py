"""Long strings as parts: pieces kept as they are, and ids of texts stored once (``texts``).

Each attribute (of a span or of an event) whose value is a string of ``MIN_CHARS`` or more is replaced by
parts; joined, they give the value back exactly. A JSON array of messages (or an object holding one) is
cut at its elements (``splitting``) so that each message is stored once however many later calls repeat
it: its long elements become texts, the rest (brackets, separators, short elements) is kept. Any other
long string is one text.

A conversation's calls resend the messages before: ``Cutter`` remembers the last array it cut for each
scope and attribute, and a new value that begins with the same elements reuses them (compared in place,
neither parsed nor looked up again), so the work per call follows what is new in it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from threadline.server.store.sqlite import splitting

MIN_CHARS = 128
"""Strings this long or longer (and array elements this long, inside JSON texts) become texts: a text
costs a row and an index entry (about 35 bytes) and a reference (a few bytes), so shorter ones are kept
in the body, where compression takes care of their repeats."""
REMEMBERED_CHARS = 8 * 1024 * 1024
"""Characters of the last arrays cut that a ``Cutter`` keeps."""

Intern = Callable[[str], int]
"""Stores a text (in the span's scope) and gives its id."""
Parts = list[str | int]
Refs = dict[str, Parts]
"""The parts of an attribute map's long strings, by key."""
Extract = Callable[[dict[str, Any]], tuple[dict[str, Any], Refs | None]]
"""An attribute map with its long strings left as 0 (keys keep their order), and those strings as parts
(None: there were none)."""
_Cut = list[tuple[bool, str, int | None]]
"""A value's pieces: (is an array element, the slice, its text id when stored as a text)."""


class Cutter:
    """Cuts attribute values into parts, remembering the last message array of each scope and attribute."""

    def __init__(self) -> None:
        self._last: OrderedDict[tuple[int, str], _Cut] = OrderedDict()
        self._chars = 0

    def forget(self) -> None:
        self._last.clear()
        self._chars = 0

    def extract(self, scope: int, intern: Intern, attributes: dict[str, Any]) -> tuple[dict[str, Any], Refs | None]:
        """See ``Extract``: texts stored in ``scope`` through ``intern``."""
        refs: Refs | None = None
        for key, value in attributes.items():
            if type(value) is str and len(value) >= MIN_CHARS:
                if refs is None:
                    refs = {}
                refs[key] = self.parts(scope, key, value, intern)
        if refs is None:
            return attributes, None
        kept = dict(attributes)
        for key in refs:
            kept[key] = 0
        return kept, refs

    def parts(self, scope: int, key: str, value: str, intern: Intern) -> Parts:
        """``value`` as kept strings and text ids."""
        cut = self._cut(scope, key, value, intern)
        if cut is None:
            return [intern(value)]
        out: Parts = []
        kept: list[str] = []
        for _, piece, text_id in cut:
            if text_id is None:
                kept.append(piece)
                continue
            if kept:
                out.append("".join(kept))
                kept = []
            out.append(text_id)
        if kept:
            out.append("".join(kept))
        return out

    def _cut(self, scope: int, key: str, value: str, intern: Intern) -> _Cut | None:
        """The pieces of a JSON text with long elements (their texts stored); None for anything else."""
        is_array = value[:1] == "["
        last = self._last.get((scope, key)) if is_array else None
        reused: _Cut = []
        found = None
        if last is not None:
            reused, end = _same_start(last, value)
            if reused:
                found = splitting.resume(value, end)
                if found is None:
                    reused = []
        if found is None:
            found = splitting.pieces(value)
            if found is None:
                return None
        cut = reused + [
            (element, piece, intern(piece) if element and len(piece) >= MIN_CHARS else None) for element, piece in found
        ]
        if all(text_id is None for _, _, text_id in cut):
            return None
        if is_array:
            self._remember((scope, key), cut, len(value))
        return cut

    def _remember(self, key: tuple[int, str], cut: _Cut, chars: int) -> None:
        previous = self._last.pop(key, None)
        if previous is not None:
            self._chars -= sum(len(piece) for _, piece, _ in previous)
        self._last[key] = cut
        self._chars += chars
        while self._chars > REMEMBERED_CHARS and len(self._last) > 1:
            _, old = self._last.popitem(last=False)
            self._chars -= sum(len(piece) for _, piece, _ in old)


def _same_start(last: _Cut, value: str) -> tuple[_Cut, int]:
    """The pieces of ``last`` that ``value`` begins with, up to the end of an element, and where that is."""
    pos = matched = end = 0
    for index, (element, piece, _) in enumerate(last):
        if not value.startswith(piece, pos):
            break
        pos += len(piece)
        if element:
            matched, end = index + 1, pos
    return last[:matched], end


def put_back(attributes: dict[str, Any], refs: Refs, texts: dict[int, str]) -> None:
    """Put the strings ``extract`` took out back in their places."""
    for key, value in refs.items():
        attributes[key] = "".join(texts[p] if isinstance(p, int) else p for p in value)


def ids(refs: Refs) -> list[int]:
    """The text ids that parts refer to."""
    return [p for value in refs.values() for p in value if isinstance(p, int)]
