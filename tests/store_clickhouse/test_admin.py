"""Projects, keys and settings, shared by every server on the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.server.store.base import ApiKey, Project
from threadline.server.store.clickhouse.store import ClickHouseStore


def test_projects_keys_and_settings(ch_path: Path) -> None:
    store = ClickHouseStore(f"chdb://{ch_path}")
    other = ClickHouseStore(f"chdb://{ch_path}")  # another server on the same database
    try:
        made = store.create_project("shop", 5)
        assert made == Project(2, "shop", 5)
        with pytest.raises(ValueError, match="exists"):
            other.create_project("shop", 6)
        other.update_project(Project(2, "renamed?", 0, "truncated", 200, False, ("secret-\\d+",), 30))
        assert store.project("shop") == Project(2, "shop", 5, "truncated", 200, False, ("secret-\\d+",), 30)
        assert [p.name for p in store.projects()] == ["default", "shop"]
        assert store.project("nope") is None
        assert store.project("\ud800") is None

        key = ApiKey("tl_abc", 2, "ci", "ingest", 10)
        store.add_key(key, b"\x00\xffhash")
        assert other.key("tl_abc") == (key, b"\x00\xffhash")
        other.touch_key("tl_abc", 20)
        assert store.revoke_key("tl_abc", 30)
        assert not other.revoke_key("tl_abc", 31)  # revoked already
        store.touch_key("tl_abc", 40)  # a later use does not undo the revocation
        found = store.key("tl_abc")
        assert found is not None
        assert found[0].revoked_ns == 30
        assert found[0].last_used_ns == 40
        assert [k.id for k in store.api_keys(2)] == ["tl_abc"]
        assert store.api_keys(1) == []
        assert not store.revoke_key("tl_nope", 1)

        assert store.idle_timeout_ms(2) is None
        store.set_idle_timeout_ms(2, 60_000)
        other.set_idle_timeout_ms(2, 90_000)
        assert store.idle_timeout_ms(2) == 90_000
    finally:
        other.close()
        store.close()
