"""``threadline export``: sessions, or their turns, to JSON Lines, CSV or Parquet, with progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from threadline.server.cli import render as r
from threadline.server.cli.client import Api, ApiRefusal, segment, source_options
from threadline.server.cli.export_formats import FORMATS, LEVELS, RowWriter, atomic_output, open_writer
from threadline.server.cli.options import session_filters

PAGE = 500


@click.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="File format.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), required=True, help="File to write.")
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="sessions",
    show_default=True,
    help="One row per session, or one row per turn (with its session_id).",
)
@session_filters("first_activity, oldest first")
@source_options
def export(api: Api, fmt: str, output: Path, level: str, filters: dict[str, Any]) -> None:
    """Export sessions or turns to JSONL, CSV or Parquet.

    The sessions that match the filters, one row each, or one row per turn of each (--level turns).
    The file appears only when the export is complete: a failed export leaves no partial file.
    """
    params = {**filters, "ordering": filters["ordering"] or "first_activity", "limit": PAGE}
    with atomic_output(output) as temporary, open_writer(fmt, temporary, level) as writer, _progress() as progress:
        if level == "sessions":
            written, skipped = _sessions(api, params, writer, progress), 0
        else:
            written, skipped = _turns(api, params, writer, progress)
    note = f" ({skipped} session(s) erased while exporting were left out)" if skipped else ""
    click.echo(f"Exported {written:,} {level[:-1] if written == 1 else level} to {output}{note}")
    if not written and filters["user_id"]:
        click.echo(r.hashed_user_hint(filters["user_id"]), err=True)


@contextmanager
def _progress() -> Iterator[Progress]:
    """A progress display on stderr, cleared if the export fails (so the error stands alone)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=r.console(stderr=True)) as progress:
        try:
            yield progress
        except BaseException:
            progress.live.transient = True
            raise


def _unfiltered(params: dict[str, Any]) -> bool:
    return all(value is None for name, value in params.items() if name not in ("ordering", "limit"))


def _sessions(api: Api, params: dict[str, Any], writer: RowWriter, progress: Progress) -> int:
    """One row per session; the total is the store's session count when nothing is filtered out."""
    total = api.get_json("/api/v1/stats")["session_count"] if _unfiltered(params) else None
    task = progress.add_task("sessions", total=total)
    done = 0
    for rows in api.pages("/api/v1/sessions", params, "sessions"):
        writer.write(rows)
        done += len(rows)
        progress.update(task, completed=done, total=max(total, done) if total is not None else None)
    progress.update(task, total=done, completed=done)
    return done


def _turns(api: Api, params: dict[str, Any], writer: RowWriter, progress: Progress) -> tuple[int, int]:
    """One row per turn, fetched session by session; returns (turns written, sessions gone meanwhile)."""
    ids = list(_session_ids(api, params, progress))
    task = progress.add_task("turns of sessions", total=len(ids))
    written = skipped = 0
    for session_id in ids:
        try:
            detail = api.get_json(f"/api/v1/sessions/{segment(session_id)}")
        except ApiRefusal as exc:
            if exc.status != 404:
                raise
            skipped += 1  # erased since it was listed
        else:
            writer.write([{"session_id": session_id, **turn} for turn in detail["turns"]])
            written += len(detail["turns"])
        progress.advance(task)
    return written, skipped


def _session_ids(api: Api, params: dict[str, Any], progress: Progress) -> Iterator[str]:
    task = progress.add_task("listing sessions", total=None)
    listed = 0
    for rows in api.pages("/api/v1/sessions", params, "sessions"):
        listed += len(rows)
        progress.update(task, completed=listed)
        yield from (row["session_id"] for row in rows)
    progress.update(task, total=listed)
