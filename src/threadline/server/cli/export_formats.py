"""Export files: JSON Lines, CSV and Parquet writers over the API's rows, written atomically.

Columns come from the API's response models, so every file has the same columns in the same order
(even an empty one). CSV cells hold lists and objects as JSON; Parquet keeps lists as lists and
holds objects (``attributes``) as JSON text.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, Union, get_args, get_origin

import click
from pydantic import BaseModel

from threadline.server.api.schemas import SessionSummary, Turn

FORMATS = ("jsonl", "csv", "parquet")
LEVELS = ("sessions", "turns")
INSTALL_HINT = "pip install 'threadline[export]'"


def columns(level: str) -> dict[str, Any]:
    """Column name → type annotation, in the API's order; turns lead with their ``session_id``."""
    fields: dict[str, Any] = {"session_id": str} if level == "turns" else {}
    model: type[BaseModel] = Turn if level == "turns" else SessionSummary
    fields.update({name: info.annotation for name, info in model.model_fields.items()})
    return fields


class RowWriter(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path``, renamed to ``path`` only if the block succeeds."""
    if path.is_dir():
        raise click.ClickException(f"cannot write {path}: it is a folder; give a file name")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        mask = os.umask(0)
        os.umask(mask)
        temporary.chmod(0o666 & ~mask)  # mkstemp makes it private; the export is an ordinary file
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def open_writer(fmt: str, path: Path, level: str) -> Iterator[RowWriter]:
    """A writer of ``level`` rows in format ``fmt`` to ``path``; the file is complete when the block ends."""
    cols = columns(level)
    if fmt == "parquet":
        with _parquet(path, cols) as writer:
            yield writer
        return
    with path.open("w", encoding="utf-8", newline="") as file:
        yield _Csv(file, list(cols)) if fmt == "csv" else _Jsonl(file, list(cols))


class _Jsonl:
    def __init__(self, file: Any, names: list[str]) -> None:
        self.file = file
        self.names = names

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.file.write(json.dumps({n: row.get(n) for n in self.names}, ensure_ascii=False) + "\n")


class _Csv:
    def __init__(self, file: Any, names: list[str]) -> None:
        self.writer = csv.writer(file)
        self.names = names
        self.writer.writerow(names)

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.writer.writerows([[_cell(row.get(n)) for n in self.names] for row in rows])


def _cell(value: Any) -> Any:
    """A CSV cell: nothing for null, true/false, JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


@contextmanager
def _parquet(path: Path, cols: dict[str, Any]) -> Iterator[RowWriter]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise click.ClickException(f"--format parquet needs pyarrow: {INSTALL_HINT}") from None
    schema = pa.schema([(name, _arrow_type(pa, annotation)) for name, annotation in cols.items()])
    as_json = [name for name, annotation in cols.items() if _arrow_type(pa, annotation) == pa.string()]
    writer = pq.ParquetWriter(str(path), schema)
    try:
        yield _Parquet(pa, writer, schema, as_json)
    finally:
        writer.close()


class _Parquet:
    def __init__(self, pa: Any, writer: Any, schema: Any, text_columns: list[str]) -> None:
        self.pa, self.writer, self.schema, self.text_columns = pa, writer, schema, text_columns

    def write(self, rows: list[dict[str, Any]]) -> None:
        def text(value: Any) -> Any:
            return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)

        prepared = [{**row, **{n: text(row.get(n)) for n in self.text_columns}} for row in rows]
        self.writer.write_table(self.pa.Table.from_pylist(prepared, schema=self.schema))


def _arrow_type(pa: Any, annotation: Any) -> Any:
    """The Arrow type of a response-model annotation; objects and ``Any`` become (JSON) text."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return _arrow_type(pa, inner)
    if origin is list:
        return pa.list_(_arrow_type(pa, args[0]))
    simple = {bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
    return simple.get(annotation, pa.string()) if origin is not Literal else pa.string()
