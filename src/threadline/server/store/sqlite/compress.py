"""Compressed values: one marker byte, then the payload.

A marker names how the payload is stored, so a value stays readable whatever is written later:
``RAW`` (as is: compressing did not make it smaller), ``ZSTD_DICT_1`` (a zstd frame made with the
dictionary ``dictionaries/spans-1.zdict``, trained on synthetic span bodies and trace folds by
``train_dictionary``), ``ZSTD`` (a zstd frame without a dictionary); ``REFERENCE`` is kept for
``texts``. Frames are magicless, without
checksum (SQLite checks its pages) and carry their content size. Values written before schema version 5
are uncompressed JSON: they start with ``{`` or ``[`` and are given back as they are.

A shipped dictionary is never changed: a new one gets a new file and a new marker.
"""

from __future__ import annotations

import functools
import threading
from importlib import resources

import zstandard

RAW = 0x00
ZSTD_DICT_1 = 0x01
ZSTD = 0x02
REFERENCE = 0x10
"""Not compressed: the id of a text stored once (``texts.reference``); ``unpack`` refuses it."""
COMPOSITE = 0x11
"""A stored text made of another text and what surrounds it (``texts``, schema version 6); ``unpack``
refuses it."""
_LEGACY = frozenset(b"{[")
LEVEL = 3
"""zstd's level: on values this small, 1 costs as much and gives a few percent more."""
SIZE_HINT = 4096
"""What zstd sizes its tables for: values are small, and tables sized for megabytes only cost cache."""

_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS


@functools.cache
def _dictionary() -> zstandard.ZstdCompressionDict:
    data = (resources.files("threadline.server.store.sqlite") / "dictionaries" / "spans-1.zdict").read_bytes()
    dictionary = zstandard.ZstdCompressionDict(data)
    dictionary.precompute_compress(compression_params=_params())
    return dictionary


def _params() -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters.from_level(
        LEVEL, source_size=SIZE_HINT, format=_FORMAT, write_content_size=1, write_checksum=0, write_dict_id=0
    )


_local = threading.local()
"""Compression contexts are not thread-safe: each thread makes its own."""


def _compressors() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdCompressor]:
    found: tuple[zstandard.ZstdCompressor, zstandard.ZstdCompressor] | None = getattr(_local, "compressors", None)
    if found is None:
        found = (
            zstandard.ZstdCompressor(dict_data=_dictionary(), compression_params=_params()),
            zstandard.ZstdCompressor(compression_params=_params()),
        )
        _local.compressors = found
    return found


def _decompressors() -> tuple[zstandard.ZstdDecompressor, zstandard.ZstdDecompressor]:
    found: tuple[zstandard.ZstdDecompressor, zstandard.ZstdDecompressor] | None = getattr(_local, "decompressors", None)
    if found is None:
        found = (
            zstandard.ZstdDecompressor(dict_data=_dictionary(), format=_FORMAT),
            zstandard.ZstdDecompressor(format=_FORMAT),
        )
        _local.decompressors = found
    return found


def pack(data: bytes, *, dictionary: bool = True) -> bytes:
    """``data`` behind its marker: compressed when that makes it smaller."""
    with_dict, plain = _compressors()
    frame = (with_dict if dictionary else plain).compress(data)
    if len(frame) < len(data):
        return bytes((ZSTD_DICT_1 if dictionary else ZSTD,)) + frame
    return bytes((RAW,)) + data


def unpack(blob: bytes) -> bytes:
    """What ``pack`` was given (a value from before version 5: itself)."""
    marker = blob[0]
    if marker in _LEGACY:
        return blob
    if marker == RAW:
        return blob[1:]
    with_dict, plain = _decompressors()
    if marker == ZSTD_DICT_1:
        return with_dict.decompress(blob[1:])
    if marker == ZSTD:
        return plain.decompress(blob[1:])
    raise ValueError(f"unknown compression marker {marker:#04x}")
