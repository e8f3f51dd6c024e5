"""Long texts stored once per scope, found again by their content.

A scope is a session (its key) or, for the spans of a trace stored while it had no session, that trace
(minus its key). Span bodies and trace folds refer to a text by its id; a text lives as long as its
scope: erasing a session or a trace deletes its scope's texts with it, so nothing outlives what it was
stored for and no count of references is kept. A text is found by (scope, digest) and then compared
whole, so a digest shared by two texts only costs a second row. Bodies are stored as TEXT when
compressing would not shrink them, else as a ``compress.pack`` BLOB.

A JSON object holding a long string (a message: ``{"role": "user", "parts": [{"content": "..."}]}``) is
stored as a composite (since schema version 6): the string as a text of its own in the same scope, and the
object as what surrounds it plus that text's id. The same words then take one row whether they arrive as a
message in a call's history or as a plain attribute (a turn's ``input.value``, an answer's
``output.value``). Only strings without escapes are shared: their JSON form is the string itself.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from collections import OrderedDict
from collections.abc import Iterable

from threadline.server.store.base import chunks
from threadline.server.store.sqlite import compress
from threadline.server.store.sqlite.textparts import MIN_CHARS, Cutter

_LONG_STRING = re.compile(rf'"([^"\\\x00]{{{MIN_CHARS},}})"')
"""A run of ``MIN_CHARS`` or more characters between quotes, none of them a quote, a backslash or a NUL: in a
JSON object, an escape-free string (or, rarely, what lies between two strings: any cut gives the text back)."""
_SKELETON_SEPARATOR = "\x00"
"""Between a composite's prefix and suffix (a text holding one is never a composite)."""
CACHE_CHARS = 16 * 1024 * 1024
"""Characters of recently stored texts the writer remembers, to refer to them without a look-up."""
_IN_CHUNK = 500


def digest(text: str) -> int:
    """The CRC-32 of ``text`` as a signed integer: only a look-up key (texts are compared whole after), so a
    fast hash of 32 bits is enough; two texts sharing one cost a second row, never a wrong answer."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) - 0x80000000


def encode(text: str) -> str | bytes:
    """The stored form of a text: itself, or compressed when that is smaller."""
    data = text.encode("utf-8", "surrogatepass")
    packed = compress.pack(data, dictionary=False)
    return text if packed[0] == compress.RAW else packed


def decode(stored: str | bytes) -> str:
    """What ``encode`` was given."""
    if isinstance(stored, str):
        return stored
    return compress.unpack(stored).decode("utf-8", "surrogatepass")


def reference(text_id: int) -> bytes:
    """A text column's value that stands for the text ``text_id`` (a BLOB: never taken for text)."""
    return bytes((compress.REFERENCE,)) + text_id.to_bytes((text_id.bit_length() + 7) // 8 or 1, "little")


def referenced(value: object) -> int | None:
    """The text id a column's value stands for, if it is a ``reference``."""
    if isinstance(value, bytes) and value[:1] == bytes((compress.REFERENCE,)):
        return int.from_bytes(value[1:], "little")
    return None


def shared_string(text: str) -> tuple[int, int] | None:
    """Where the longest escape-free string of a JSON object ``text`` lies (its characters only), when it is
    long enough to be a text of its own; None otherwise. Found by one regular expression in C: a cut
    anywhere would give the text back, so it only has to find the usual case fast."""
    if text[:1] != "{" or _SKELETON_SEPARATOR in text:  # any text may start with "{": not all are JSON
        return None
    best: tuple[int, int] | None = None
    for match in _LONG_STRING.finditer(text):
        start, end = match.span(1)
        if best is None or end - start > best[1] - best[0]:
            best = (start, end)
    return best


def composite(text: str, span: tuple[int, int], inner_id: int) -> bytes:
    """The stored form of ``text`` whose characters at ``span`` are the text ``inner_id``."""
    skeleton = (text[: span[0]] + _SKELETON_SEPARATOR + text[span[1] :]).encode("utf-8", "surrogatepass")
    return bytes((compress.COMPOSITE,)) + inner_id.to_bytes(8, "little") + compress.pack(skeleton, dictionary=False)


def _inner_id(stored: str | bytes) -> int | None:
    if isinstance(stored, bytes) and stored[:1] == bytes((compress.COMPOSITE,)):
        return int.from_bytes(stored[1:9], "little")
    return None


def _assembled(stored: bytes, inner: str) -> str:
    prefix, _, suffix = compress.unpack(stored[9:]).decode("utf-8", "surrogatepass").partition(_SKELETON_SEPARATOR)
    return prefix + inner + suffix


class TextWriter:
    """The writer's side: texts interned in a scope, new ones inserted at ``flush``. One per store; what it
    remembers is dropped with ``forget`` (after an erasure or a failed transaction).

    A scope made since the writer started (or last forgot) is new: all its texts went through this writer,
    so while none of them has left the cache, a text not in the cache is not stored and needs no look-up.
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[int, str], int] = OrderedDict()
        self._cached_chars = 0
        self._pending: dict[tuple[int, str], int] = {}
        self._rows: list[tuple[int, int, int, str | bytes]] = []
        self._next_id = 0
        self._sessions_before = self._traces_before = 0
        self._incomplete: set[int] = set()
        """New scopes some of whose texts left the cache."""
        self.cutter = Cutter()
        """Cuts values into parts with the texts of this writer (forgotten with them)."""

    def start(self, conn: sqlite3.Connection) -> None:
        """Read where ids continue and which scopes exist (when opening, and after ``forget``)."""
        self._next_id, self._sessions_before, self._traces_before = (
            int(conn.execute(f"SELECT ifnull(max({key}), 0) FROM {table}").fetchone()[0])
            for key, table in (("id", "texts"), ("pk", "sessions"), ("pk", "traces"))
        )

    def forget(self, conn: sqlite3.Connection) -> None:
        self._cache.clear()
        self._cached_chars = 0
        self._pending.clear()
        self._rows.clear()
        self._incomplete.clear()
        self.cutter.forget()
        self.start(conn)

    def intern(self, conn: sqlite3.Connection, scope: int, text: str) -> int:
        """The id of ``text`` in ``scope``, stored (at the next ``flush``) if it is not yet."""
        key = (scope, text)
        found = self._known(key) or self._stored(conn, scope, text)
        if found is None:
            self._next_id += 1
            found = self._next_id
            self._pending[key] = found
            span = shared_string(text)
            if span is None:
                body: str | bytes = encode(text)
            else:
                body = composite(text, span, self.intern(conn, scope, text[span[0] : span[1]]))
            self._rows.append((found, scope, digest(text), body))
        return found

    def find(self, conn: sqlite3.Connection, scope: int, text: str) -> int | None:
        """The id of ``text`` in ``scope`` if it is stored (or pending), else None."""
        return self._known((scope, text)) or self._stored(conn, scope, text)

    def _known(self, key: tuple[int, str]) -> int | None:
        found = self._pending.get(key)
        if found is None:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
        return found

    def _new(self, scope: int) -> bool:
        return (scope > self._sessions_before if scope > 0 else -scope > self._traces_before) and (
            scope not in self._incomplete
        )

    def _stored(self, conn: sqlite3.Connection, scope: int, text: str) -> int | None:
        if self._new(scope):
            return None
        rows = conn.execute("SELECT id, body FROM texts WHERE scope = ? AND digest = ?", (scope, digest(text)))
        for text_id, body in rows.fetchall():
            inner_id = _inner_id(body)
            if (decode(body) if inner_id is None else _assembled(body, load(conn, [inner_id])[inner_id])) == text:
                self._remember((scope, text), text_id)
                return int(text_id)
        return None

    def flush(self, conn: sqlite3.Connection) -> None:
        """Insert the texts interned since the last flush."""
        if not self._rows:
            return
        conn.executemany("INSERT INTO texts (id, scope, digest, body) VALUES (?, ?, ?, ?)", self._rows)
        for key, text_id in self._pending.items():
            self._remember(key, text_id)
        self._pending.clear()
        self._rows.clear()

    def _remember(self, key: tuple[int, str], text_id: int) -> None:
        if key in self._cache:
            return
        self._cache[key] = text_id
        self._cached_chars += len(key[1])
        while self._cached_chars > CACHE_CHARS and self._cache:
            (scope, old), _ = self._cache.popitem(last=False)
            self._cached_chars -= len(old)
            self._incomplete.add(scope)


def load(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """The texts of these ids (composites assembled)."""
    found: dict[int, str] = {}
    composites: dict[int, bytes] = {}
    for chunk in chunks(sorted(set(ids)), _IN_CHUNK):
        marks = ",".join("?" * len(chunk))
        for text_id, body in conn.execute(f"SELECT id, body FROM texts WHERE id IN ({marks})", chunk):
            if _inner_id(body) is None:
                found[text_id] = decode(body)
            else:
                composites[text_id] = body
    if composites:
        inner_ids = {i for body in composites.values() if (i := _inner_id(body)) is not None}
        inner = load(conn, inner_ids - found.keys())
        inner.update(found)
        for text_id, body in composites.items():
            found[text_id] = _assembled(body, inner[_inner_id(body)])  # type: ignore[index]
    return found


def delete_scopes(conn: sqlite3.Connection, scopes: Iterable[int]) -> None:
    """Delete every text of these scopes."""
    conn.executemany("DELETE FROM texts WHERE scope = ?", [(scope,) for scope in scopes])
