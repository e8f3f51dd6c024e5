"""``threadline projects create|list|set`` and ``threadline keys create|list|revoke``.

Either on the database itself (``--data-dir``, on the server's machine: how the first key is made) or
through a server (``--url`` with ``--api-key``, a full key of the project). A new key is printed once, alone
on the last line, so that ``KEY=$(threadline keys create ... | tail -n 1)`` captures it.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from threadline.server.auth import admin
from threadline.server.auth.secret import server_secret
from threadline.server.cli import render as r
from threadline.server.cli.client import DEFAULT_URL, ApiRefusal
from threadline.server.cli.options import UsageLine
from threadline.server.ingest.privacy import POLICIES
from threadline.server.settings import Settings
from threadline.server.store.base import ApiKey, Project, StoreUnavailable
from threadline.server.store.opening import open_store

SECRET_ENV = "THREADLINE_SECRET_KEY"


@dataclass(frozen=True)
class Local:
    """The database to work on directly: SQLite in ``data_dir``, or ClickHouse at ``clickhouse_url``."""

    data_dir: Path | None
    clickhouse_url: str
    clickhouse_cluster: str


def _source(command: Any) -> Any:
    """``--url`` / ``--api-key``, or the database itself (``--data-dir`` or ``--clickhouse-url``): the command
    receives ``url``, ``api_key`` and ``local`` (None: through the server at ``url``)."""

    @functools.wraps(command)
    def run(*args: Any, data_dir: Path | None, clickhouse_url: str, clickhouse_cluster: str, **kwargs: Any) -> Any:
        if clickhouse_cluster and not clickhouse_url:
            raise UsageLine("--clickhouse-cluster needs --clickhouse-url")
        local = Local(data_dir, clickhouse_url, clickhouse_cluster) if data_dir or clickhouse_url else None
        return command(*args, local=local, **kwargs)

    options = [
        click.option(
            "--clickhouse-cluster", metavar="NAME", default="", envvar="THREADLINE_CLICKHOUSE_CLUSTER",
            help="With --clickhouse-url: the cluster the servers run on (--clickhouse-cluster of serve).",
        ),
        click.option(
            "--clickhouse-url", metavar="URL", default="", envvar="THREADLINE_CLICKHOUSE_URL",
            help="Work on this ClickHouse store directly (the servers' --clickhouse-url; needs THREADLINE_SECRET_KEY "
            "for keys when it is a ClickHouse server).",
        ),
        click.option(
            "--data-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR", default=None,
            help="Work on this database directly (the server's machine; how the first key is made).",
        ),
        click.option(
            "--api-key", metavar="KEY", envvar="THREADLINE_API_KEY", show_envvar=True, help="A full key of the project."
        ),
        click.option(
            "--url", metavar="URL", default=DEFAULT_URL, envvar="THREADLINE_URL", show_default=True, show_envvar=True,
            help="The Threadline server to ask.",
        ),
    ]  # fmt: skip
    for option in options:
        run = option(run)
    return run


@click.group()
def projects() -> None:
    """Projects: each one's sessions, users and keys are apart from the others'."""


@projects.command("create")
@click.argument("name")
@_source
def create_project(name: str, url: str, api_key: str | None, local: Local | None) -> None:
    """Create a project (on the database: --data-dir; through a server only when it runs without --auth)."""
    if local is not None:
        with _local(local) as (store, _):
            project = _admin(lambda: admin.create_project(store, name, time.time_ns()))
        click.echo(f"Created project {project.name}.")
        return
    body = _remote(url, api_key, "POST", "/api/v1/projects", {"name": name})
    click.echo(f"Created project {body['name']}.")


@projects.command("list")
@_source
def list_projects(url: str, api_key: str | None, local: Local | None) -> None:
    """List projects with their content policy and retention."""
    if local is not None:
        with _local(local) as (store, _):
            rows = [_project_row(p) for p in store.projects()]
    else:
        rows = [
            (p["name"], _when_s(p["created_at"]), p["content_policy"], _days(p["retention_days"]))
            for p in _remote(url, api_key, "GET", "/api/v1/projects")
        ]
    grid = r.table("project", "created (UTC)", "content", ">retention")
    for row in rows:
        grid.add_row(*(r.clean(cell) for cell in row))
    r.show(grid)


@projects.command("set")
@click.argument("name")
@click.option(
    "--content-policy",
    type=click.Choice(POLICIES),
    default=None,
    help="What is kept of prompts, answers and tool arguments: all of them, their start, or nothing.",
)
@click.option("--content-max-chars", type=click.IntRange(min=1), metavar="N", help="Characters kept under 'truncated'.")
@click.option(
    "--redact-secrets/--no-redact-secrets",
    default=None,
    help="Replace API keys, tokens and e-mail addresses with [redacted:<kind>] before anything is written.",
)
@click.option(
    "--redact-pattern",
    "redact_patterns",
    multiple=True,
    metavar="REGEX",
    help="A regular expression whose matches are redacted too (repeat it; replaces the project's list).",
)
@click.option("--no-redact-patterns", is_flag=True, help="Forget the project's own patterns.")
@click.option("--retention-days", type=click.IntRange(min=1), metavar="N", help="Remove sessions quiet for N days.")
@click.option("--keep-forever", is_flag=True, help="No retention: sessions stay until erased.")
@_source
def set_project(
    name: str,
    content_policy: str | None,
    content_max_chars: int | None,
    redact_secrets: bool | None,
    redact_patterns: tuple[str, ...],
    no_redact_patterns: bool,
    retention_days: int | None,
    keep_forever: bool,
    url: str,
    api_key: str | None,
    local: Local | None,
) -> None:
    """Change a project's privacy and retention; settings not given stay as they are.

    The privacy settings apply to what arrives from then on: what is stored already is not rewritten.
    """
    if retention_days is not None and keep_forever:
        raise UsageLine("give --retention-days or --keep-forever, not both")
    if redact_patterns and no_redact_patterns:
        raise UsageLine("give --redact-pattern or --no-redact-patterns, not both")
    patterns = () if no_redact_patterns else (redact_patterns or None)
    change: dict[str, Any] = {
        "content_policy": content_policy,
        "content_max_chars": content_max_chars,
        "redact_secrets": redact_secrets,
        "redact_patterns": list(patterns) if patterns is not None else None,
        "retention_days": retention_days,
    }
    change = {key: value for key, value in change.items() if value is not None}
    if keep_forever:
        change["retention_days"] = None
    if not change:
        raise UsageLine("nothing to change: give at least one setting (see --help)")
    if local is not None:
        with _local(local) as (store, _):
            project = _admin(lambda: admin.configure_project(store, name, **_settings_of(change)))
        row = _project_settings(project)
    else:
        row = _remote(url, api_key, "PATCH", f"/api/v1/projects/{name}", change)
    click.echo(
        f"Project {name}: content {row['content_policy']}"
        + (f" ({row['content_max_chars']} characters)" if row["content_policy"] == "truncated" else "")
        + f", secrets {'redacted' if row['redact_secrets'] else 'kept'}, {len(row['redact_patterns'])} own patterns,"
        + f" retention {_days(row['retention_days'])}."
    )


def _settings_of(change: dict[str, Any]) -> dict[str, Any]:
    """The ``configure_project`` arguments for a change as sent to the API."""
    settings = dict(change)
    if "redact_patterns" in settings:
        settings["redact_patterns"] = tuple(settings["redact_patterns"])
    if "retention_days" in settings and settings["retention_days"] is None:
        del settings["retention_days"]
        settings["keep_forever"] = True
    return settings


def _project_settings(project: Project) -> dict[str, Any]:
    return {
        "content_policy": project.content_policy,
        "content_max_chars": project.content_max_chars,
        "redact_secrets": project.redact_secrets,
        "redact_patterns": list(project.redact_patterns),
        "retention_days": project.retention_days,
    }


@click.group()
def keys() -> None:
    """API keys: what a client sends to ingest, read or manage a project (Authorization: Bearer KEY)."""


@keys.command("create")
@click.option("--project", required=True, metavar="NAME", help="The project the key works in.")
@click.option("--name", default="", metavar="LABEL", help="A label to tell keys apart (who or what uses it).")
@click.option("--read-only", "scope", flag_value="read", help="Read the project (API, pages, exports); no ingest.")
@click.option("--ingest-only", "scope", flag_value="ingest", help="Send spans only; read nothing.")
@_source
def create_key(project: str, name: str, scope: str | None, url: str, api_key: str | None, local: Local | None) -> None:
    """Create a key; it is printed once, alone on the last line.

    Without --read-only or --ingest-only the key is full: it ingests, reads, erases and manages keys.
    """
    scope = scope or "full"
    if local is not None:
        with _local(local) as (store, secret):
            made = _admin(lambda: admin.create_key(store, secret, project, name, scope, time.time_ns()))  # type: ignore[arg-type]
        key, public = made.key, made.record.id
    else:
        body = _remote(url, api_key, "POST", "/api/v1/keys", {"project": project, "name": name, "scope": scope})
        key, public = body["key"], body["id"]
    click.echo(f"Created a {scope} key for project {project} ({public}). It is shown once: store it now.", err=True)
    langfuse = f"Langfuse's SDK: public key {public}, secret key the whole key"
    click.echo(f"Send it as Authorization: Bearer <key>. {langfuse}.", err=True)
    click.echo(key)


@keys.command("list")
@click.option("--project", metavar="NAME", help="Only this project's keys (--data-dir).")
@_source
def list_keys(project: str | None, url: str, api_key: str | None, local: Local | None) -> None:
    """List keys (never the keys themselves): id, project, label, scope, when made, last used, revoked."""
    if local is not None:
        with _local(local) as (store, _):
            names = {p.id: p.name for p in store.projects()}
            wanted = _admin(lambda: admin.project_named(store, project)).id if project else None
            rows = [_key_row(k, names.get(k.project_id, "?")) for k in store.api_keys(wanted)]
    else:
        if project is not None and project not in {p["name"] for p in _remote(url, api_key, "GET", "/api/v1/projects")}:
            raise click.ClickException(
                f"no project named {project!r} for this key; list them with `threadline projects list`"
            )
        rows = [
            (k["id"], k["project"], k["name"], k["scope"], _when_s(k["created_at"]), _when_s(k["last_used_at"]),
             _when_s(k["revoked_at"]))
            for k in _remote(url, api_key, "GET", "/api/v1/keys") if project is None or k["project"] == project
        ]  # fmt: skip
    if not rows:
        click.echo("No keys.")
        return
    grid = r.table("id", "project", "label", "scope", "created (UTC)", "last used (UTC)", "revoked (UTC)")
    for row in rows:
        grid.add_row(*(r.clean(cell) for cell in row))
    r.show(grid)


@keys.command("revoke")
@click.argument("key_id")
@_source
def revoke_key(key_id: str, url: str, api_key: str | None, local: Local | None) -> None:
    """Revoke a key by its id (tl_...): it stops working within seconds, with its web sessions."""
    key_id = key_id if key_id.count("_") == 1 else "_".join(key_id.split("_")[:2])  # a whole key names its id
    if local is not None:
        with _local(local) as (store, _):
            _admin(lambda: admin.revoke_key(store, key_id, time.time_ns()))
    else:
        _remote(url, api_key, "DELETE", f"/api/v1/keys/{key_id}")
    click.echo(f"Revoked {key_id}.")


# --- where the work is done ------------------------------------------------------------------------


@contextmanager
def _local(local: Local) -> Iterator[tuple[Any, bytes]]:
    """The store ``local`` names, opened (and migrated), with the secret keys are hashed with."""
    configured = os.environ.get(SECRET_ENV, "")
    data_dir = (local.data_dir or Path(Settings().data_dir)).expanduser()
    if local.clickhouse_url:
        if not configured and not local.clickhouse_url.startswith("chdb:"):
            raise click.ClickException(
                f"a ClickHouse server's keys are hashed with the servers' --secret-key: set {SECRET_ENV} to it"
            )
        settings = Settings(
            store="clickhouse",
            clickhouse_url=local.clickhouse_url,
            clickhouse_cluster=local.clickhouse_cluster,
            data_dir=data_dir,
        )
    else:
        from threadline.server.store.sqlite.db import database_path

        settings = Settings(data_dir=data_dir)
        if not database_path(data_dir).exists():
            serve = f"threadline serve --data-dir {data_dir}"
            click.echo(f"A new Threadline database in {data_dir}: serve it with `{serve}`.", err=True)
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store, server_secret(configured, data_dir)
    finally:
        store.close()


def _admin(work: Any) -> Any:
    try:
        return work()
    except admin.AdminError as error:
        raise click.ClickException(str(error)) from None


def _remote(url: str, api_key: str | None, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30) as http:
            response = http.request(method, path, json=body)
    except httpx.UnsupportedProtocol:
        raise UsageLine(f"--url {url!r} is not an http:// or https:// URL") from None
    except httpx.TransportError:
        raise click.ClickException(
            f"no Threadline server at {url}: start one with `threadline serve`, or pass --data-dir"
        ) from None
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise click.ClickException(f"{url} answered HTTP {response.status_code}") from None
    raise ApiRefusal(response.status_code, str(error.get("code")), str(error.get("message")))


def _project_row(project: Project) -> tuple[str, ...]:
    return project.name, _when_s(project.created_ns / 1e9), project.content_policy, _days(project.retention_days)


def _key_row(key: ApiKey, project: str) -> tuple[str, ...]:
    def when(ns: int | None) -> str:
        return _when_s(ns / 1e9) if ns is not None else r.NONE

    return (
        key.id,
        project,
        key.name or r.NONE,
        key.scope,
        when(key.created_ns),
        when(key.last_used_ns),
        when(key.revoked_ns),
    )


def _when_s(seconds: float | None) -> str:
    if seconds is None:
        return r.NONE
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _days(days: int | None) -> str:
    return "kept" if days is None else f"{days} days"
