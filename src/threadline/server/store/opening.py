"""Open the storage engine the settings name: SQLite in ``--data-dir``, or ClickHouse at ``--clickhouse-url``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from threadline.server.settings import Settings
from threadline.server.store.base import Store, StoreUnavailable


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The engine ``settings.store`` names, opened (migrated unless ``read_only``). Raises ``StoreUnavailable``
    with one line for the operator."""
    problem = settings.store_problem()
    if problem is not None:
        raise StoreUnavailable(problem)
    if settings.store == "clickhouse":
        try:
            from threadline.server.store.clickhouse.store import ClickHouseStore
        except ImportError as missing:
            raise StoreUnavailable(
                f"--store clickhouse needs the clickhouse extra ({missing.name} is missing): "
                "pip install 'threadline[server,clickhouse]'"
            ) from None
        return ClickHouseStore(
            settings.clickhouse_url, cluster=settings.clickhouse_cluster or None, read_only=read_only
        )
    from threadline.server.store.sqlite.store import SqliteStore

    return SqliteStore(settings.data_dir, read_only=read_only)


def location(settings: Settings) -> str:
    """Where the data lives, to tell the operator (a URL's password left out)."""
    if settings.store != "clickhouse":
        return str(settings.data_dir.expanduser().resolve())
    parts = urlsplit(settings.clickhouse_url)
    if parts.password is None:
        return settings.clickhouse_url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
