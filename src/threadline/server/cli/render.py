"""How the data commands print: a rich console, raw JSON, and short human forms of API values.

Every value that came from the API and is printed (table cells, fields, headings, messages) goes
through ``clean``: span content cannot move the cursor, clear the screen, plant a hyperlink or turn
text around. ``--json`` prints the API's JSON as it came, with such characters as ``\\u`` escapes.

Values are shortened for people by ``humanize`` (money rounded there); ``--json`` keeps them exact.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import click
from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

# Value formatting is shared with the web pages; the commands reach it through this module.
from threadline.server.humanize import NONE as NONE
from threadline.server.humanize import count as count
from threadline.server.humanize import duration as duration
from threadline.server.humanize import money as money
from threadline.server.humanize import number as number
from threadline.server.humanize import percent as percent
from threadline.server.humanize import rate as rate
from threadline.server.humanize import when as when


class Listing(Protocol):
    """What ``show_listing`` needs of the API client."""

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    def pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[list[dict[str, Any]]]: ...


WIDE = 200
"""Width when stdout is not a terminal (a pipe, a file) and ``COLUMNS`` is not set."""
LIMITLESS = 100_000


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A console on the current stdout (or stderr); ``WIDE`` when it is not a terminal.

    Markup and emoji codes are off: span content such as ``[error400]`` or ``:warning:`` prints as is.
    """
    options: dict[str, Any] = {"stderr": stderr, "highlight": False, "markup": False, "emoji": False}
    out = Console(**options, width=width)
    if width is None and not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(**options, width=WIDE)
    return out


def show(*parts: RenderableType) -> None:
    """Print ``parts``; a table without flexible columns at its natural width even past the console's,
    so that no id or number is ever cut or folded (a narrow terminal wraps the long lines)."""
    out = console()
    for part in parts:
        if isinstance(part, Table) and not part.expand:
            natural = out.measure(part, options=out.options.update_width(LIMITLESS)).maximum
            if natural > out.width:
                console(width=natural).print(part)
                continue
        out.print(part)


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def print_json(data: Any) -> None:
    """The API's JSON, indented, as it came; controls JSON leaves raw (DEL, C1, bidi) as ``\\u`` escapes."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    click.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text))


_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, erasing, colours
    r"|(?:\x1b[]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC (hyperlinks, titles), DCS...
    r"|\x1b[ -/]*[0-~]"  # other escapes (a reset, a character set)
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates."""
_SPACES = {"\t": " ", "\n": " "}


def clean(text: str, *, lines: bool = False) -> str:
    """``text`` safe to print: escape sequences and control characters removed, tabs as spaces, line
    breaks as spaces (kept with ``lines``)."""
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub(lambda m: "\n" if lines and m[0] == "\n" else _SPACES.get(m[0], ""), text)


def heading(text: str) -> Text:
    return Text(clean(text), style="bold")


class Grid(Table):
    """A table whose text cells are ``clean``, line breaks kept in the columns listed in ``multiline``."""

    multiline: frozenset[int] = frozenset()

    def add_row(
        self, *renderables: RenderableType | None, style: StyleType | None = None, end_section: bool = False
    ) -> None:
        cells = [
            clean(cell, lines=index in self.multiline) if isinstance(cell, str) else cell
            for index, cell in enumerate(renderables)
        ]
        super().add_row(*cells, style=style, end_section=end_section)


def table(*columns: str, title: str | None = None) -> Table:
    """A table; a column name may start with a mark: ``>`` a number (right-aligned), ``…`` text that takes
    the width left and is cut to one line, ``~`` the same but wrapped (line breaks kept). Other columns
    never wrap."""
    flexible = any(column[:1] in ("~", "…") for column in columns)
    grid = Grid(
        title=title, title_justify="left", header_style="bold", show_edge=False, pad_edge=False, expand=flexible
    )
    grid.multiline = frozenset(i for i, column in enumerate(columns) if column[:1] == "~")
    for column in columns:
        mark, name = (column[0], column[1:]) if column[:1] in (">", "~", "…") else ("", column)
        grid.add_column(
            name,
            justify="right" if mark == ">" else "left",
            no_wrap=mark != "~",
            overflow="fold" if mark == "~" else "ellipsis",
            ratio=1 if mark in ("~", "…") else None,
        )
    return grid


def fields(rows: list[tuple[str, str]]) -> Table:
    """Label / value pairs, one per line."""
    grid = Grid.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def yes(flag: bool | None) -> str:
    return NONE if flag is None else ("yes" if flag else "no")


def shorten(text: str | None, width: int) -> str:
    """One ``clean`` line of at most ``width`` characters."""
    if not text:
        return NONE
    line = " ".join(clean(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def tokens(input_tokens: int, output_tokens: int) -> str:
    return f"{input_tokens:,} → {output_tokens:,}"


def show_listing(
    api: Listing,
    path: str,
    key: str,
    params: dict[str, Any],
    *,
    all_pages: bool,
    as_json: bool,
    render: Callable[[list[dict[str, Any]]], RenderableType],
    empty_hint: str | None = None,
) -> None:
    """One page of a list endpoint (or every page), as the API's JSON or as a table with a hint to go on;
    ``empty_hint`` goes to stderr when nothing matches."""
    if all_pages:
        rows = [row for page in api.pages(path, params, key) for row in page]
        next_cursor = None
    else:
        page = api.get_json(path, params)
        rows, next_cursor = page[key], page["next_cursor"]
    if as_json:
        print_json({key: rows, "next_cursor": next_cursor})
        return
    if not rows:
        click.echo(f"No {key} match.")
        if empty_hint:
            click.echo(empty_hint, err=True)
        return
    show(render(rows))
    if next_cursor:
        click.echo(f"More {key}: add --cursor {clean(next_cursor)} (or --all for every page).", err=True)


def hashed_user_hint(user_id: str) -> str:
    """One line: user ids may be stored hashed, and how to find the stored form of ``user_id``."""
    lookup = f"python -c \"import threadline; print(threadline.hash_user_id({user_id!r}, salt='YOUR_SALT'))\""
    return clean(
        f"User ids may be stored hashed: look one up with `{lookup}` (the application's THREADLINE_USER_ID_SALT), "
        "or start the server with THREADLINE_USER_ID_SALT set to the application's salt."
    )
