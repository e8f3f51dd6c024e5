"""The ``threadline`` command. User mistakes get one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from threadline.server.auth.guard import is_loopback
from threadline.server.cli.access import keys, projects
from threadline.server.cli.analytics import analytics
from threadline.server.cli.export import export
from threadline.server.cli.options import UsageLine
from threadline.server.cli.sessions import sessions
from threadline.server.cli.users import users
from threadline.server.settings import SETTINGS, Settings, parse_duration
from threadline.server.store.base import StoreUnavailable


def _settings_options(command: Any) -> Any:
    """Attach one click option per row of the settings table (flag, env var, default, help)."""
    for setting in reversed(SETTINGS):
        common: dict[str, Any] = {"default": setting.default, "envvar": setting.env, "show_envvar": True}
        if setting.type is bool:
            switch = f"{setting.flag}/--no-{setting.flag[2:]}"
            option = click.option(switch, setting.name, help=setting.help, **common)
        else:
            kind: Any = click.Path(path_type=Path, file_okay=False) if setting.type is Path else setting.type
            option = click.option(setting.flag, setting.name, type=kind, show_default=True, help=setting.help, **common)
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="threadline")
def main() -> None:
    """Threadline: session observability for multi-turn LLM agents."""


@main.command()
@_settings_options
def serve(**options: Any) -> None:
    """Ingest OTLP, serve the API, on one port; prints the URL when ready."""
    settings = Settings(**options)
    try:
        parse_duration(settings.idle_timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--idle-timeout") from None
    refusal = exposure_refusal(settings)
    if refusal:
        raise click.ClickException(refusal)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise UsageLine("--tls-cert and --tls-key go together: pass both to serve HTTPS")
    if settings.ingest_workers < -1:
        raise UsageLine("--ingest-workers takes -1 (one less than the cores), 0 (decode on threads) or a count")
    problem = settings.store_problem() or shared_secret_problem(settings)
    if problem:
        raise UsageLine(problem)
    from threadline.server.serve import limit_malloc_arenas, run_forever

    limit_malloc_arenas()
    try:
        run_forever(settings)
    except KeyboardInterrupt:
        pass
    except StoreUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


def exposure_refusal(settings: Settings) -> str | None:
    """Why ``serve`` must not start: on an address others can reach, without authentication."""
    if is_loopback(settings.host) or settings.auth or settings.insecure_no_auth:
        return None
    return (
        f"refusing to serve {settings.host} without authentication: create a key "
        f"(threadline keys create --project default --data-dir {settings.data_dir}) and add --auth, or pass "
        "--insecure-no-auth to let anyone who reaches the port read and erase everything"
    )


def shared_secret_problem(settings: Settings) -> str | None:
    """Servers that share a ClickHouse store must share the secret their keys are hashed with."""
    shared = settings.store == "clickhouse" and not settings.clickhouse_url.startswith("chdb:")
    if shared and settings.auth and not settings.secret_key:
        return (
            "--store clickhouse with --auth needs --secret-key (THREADLINE_SECRET_KEY), the same on every server "
            "sharing the store: each would otherwise make its own and refuse the others' keys"
        )
    return None


for command in (sessions, analytics, users, export, projects, keys):
    main.add_command(command)
