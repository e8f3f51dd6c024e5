"""Where the data commands read from: a running server's JSON API, or a database opened read-only.

Every data command is written once against the JSON API (``get_json(path, params)``). By default it
is asked over HTTP at ``--url``; with ``--data-dir`` the same API code runs in this process over a
database opened read-only (ASGI in-process, no port), which is safe while a server writes it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import click
import httpx

from threadline.server.auth.guard import PROJECT_HEADER
from threadline.server.cli.options import UsageLine
from threadline.server.cli.render import clean

DEFAULT_URL = "http://127.0.0.1:4318"
SALT_ENV = "THREADLINE_USER_ID_SALT"
"""Read by ``--data-dir``, as by the server: the salt user ids are hashed with."""
F = TypeVar("F", bound=Callable[..., Any])


class ApiRefusal(click.ClickException):
    """The API answered with an error; ``message`` is the API's own words (``clean``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(clean(message))
        self.status = status
        self.code = code


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def is_success(self) -> bool: ...
    def json(self) -> Any: ...


class _Http(Protocol):
    """What ``Api`` needs of an HTTP client (httpx's, or starlette's in-process test client)."""

    def get(self, url: str, *, params: dict[str, str]) -> _Response: ...


class Api:
    """The read API, whichever way it is reached."""

    def __init__(self, http: _Http, where: str) -> None:
        self._http = http
        self.where = where

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, missing: str | None = None) -> Any:
        """GET ``path`` with ``params`` (``None`` values left out, booleans as true/false); the JSON body.

        ``missing`` replaces the API's words when it answers 404 (they are written for API users).
        """
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.get(path, params=query)
        except httpx.TransportError as exc:
            raise _unreachable(self.where, exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code == 404 and missing is not None:
            raise click.ClickException(clean(missing))
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            raise ApiRefusal(response.status_code, str(error.get("code")), error["message"])
        raise click.ClickException(
            f"{self.where} answered HTTP {response.status_code} to GET {path}, not like a Threadline server; "
            "check --url"
        )

    def pages(self, path: str, params: Mapping[str, Any], key: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list endpoint, following ``next_cursor`` until it is null."""
        query = dict(params)
        while True:
            page = self.get_json(path, query)
            yield page[key]
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]


def segment(value: str) -> str:
    """``value`` as one URL path segment (ids may hold '?', '#', '%' or spaces)."""
    return quote(value, safe="")


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unreachable(where: str, exc: httpx.TransportError) -> click.ClickException:
    if isinstance(exc, httpx.TimeoutException):
        return click.ClickException(f"the Threadline server at {where} did not answer in time ({exc})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return _not_a_url(where)
    return click.ClickException(
        f"no Threadline server at {where}: start one with `threadline serve`, "
        "or pass --data-dir to read a database directly"
    )


def _not_a_url(url: str) -> UsageLine:
    return UsageLine(f"--url {url!r} is not an http:// or https:// URL")


@contextmanager
def open_api(
    url: str, data_dir: Path | None, *, api_key: str | None = None, project: str | None = None
) -> Iterator[Api]:
    """The API at ``url`` (with ``api_key``, the key that names the project), or, given ``data_dir``, the
    database there opened read-only in this process (reading ``project``)."""
    if data_dir is not None:
        with _local(data_dir, project) as api:
            yield api
        return
    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        http = httpx.Client(base_url=base, timeout=30.0, headers=headers)
    except httpx.InvalidURL:
        raise _not_a_url(url) from None
    with http:
        yield Api(http, base)


@contextmanager
def _local(data_dir: Path, project: str | None) -> Iterator[Api]:
    from starlette.testclient import TestClient

    from threadline.server.app import create_app
    from threadline.server.settings import Settings
    from threadline.server.store.sqlite.db import database_path

    data_dir = data_dir.expanduser()  # as `threadline serve` reads it, when a quoted ~ reached us
    path = database_path(data_dir)
    if not data_dir.is_dir():
        raise click.ClickException(
            f"no Threadline data at {data_dir}: pass the --data-dir that `threadline serve` uses"
        )
    if not path.is_file():
        raise click.ClickException(f"no Threadline database at {path}: start `threadline serve --data-dir {data_dir}`")
    # The idle timeout (active vs ended) is the one the server recorded in the database.
    settings = Settings(data_dir=data_dir, user_id_salt=os.environ.get(SALT_ENV, ""))
    app = create_app(settings, read_only=True)
    headers = {PROJECT_HEADER: project} if project else {}
    client = TestClient(app, base_url="http://localhost", headers=headers, raise_server_exceptions=False)
    try:
        client.__enter__()  # runs the lifespan: opens the database
    except Exception as exc:  # the store refuses the file: not a database, or an older schema
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    try:
        yield Api(client, str(data_dir))
    finally:
        client.__exit__(None, None, None)


def source_options(command: F) -> F:
    """``--url`` and ``--data-dir``; the command receives ``api`` (an open ``Api``) instead.

    Apply it below a command's own options, so that these two come last in its help.
    """

    @click.option(
        "--project",
        metavar="NAME",
        default=None,
        help="With --data-dir: the project to read (default: default). With --url the key decides.",
    )
    @click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        default=None,
        help="Read this database directly (read-only, safe while a server runs) instead of asking --url.",
    )
    @click.option(
        "--api-key",
        metavar="KEY",
        default=None,
        envvar="THREADLINE_API_KEY",
        show_envvar=True,
        help="The key to ask --url with, when the server requires one (prefer the environment variable).",
    )
    @click.option(
        "--url",
        metavar="URL",
        default=DEFAULT_URL,
        envvar="THREADLINE_URL",
        show_default=True,
        show_envvar=True,
        help="The Threadline server to ask.",
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any, url: str, data_dir: Path | None, api_key: str | None, project: str | None, **kwargs: Any
    ) -> Any:
        given = click.get_current_context().get_parameter_source("url") == click.core.ParameterSource.COMMANDLINE
        if data_dir is not None and given:
            raise UsageLine("pass --url or --data-dir, not both")
        if project is not None and data_dir is None:
            raise UsageLine("--project reads a --data-dir; with --url, the --api-key names the project")
        with open_api(url, data_dir, api_key=api_key, project=project) as api:
            return command(*args, api=api, **kwargs)

    return wrapper  # type: ignore[return-value]
