"""Projects and API keys, the same on every engine (servers sharing a store share them)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from store_contract.conftest import Engine
from threadline.server.store.base import ApiKey


def test_the_default_project_exists(engine: Engine) -> None:
    default = engine.store.project("default")
    assert default is not None
    assert default.id == 1
    assert engine.store.project_by_id(1) == default
    assert [p.name for p in engine.store.projects()] == ["default"]


def test_projects_are_created_once_and_updated(engine: Engine) -> None:
    made = engine.store.create_project("lab", 1_000)
    assert made.id != 1
    assert engine.store.project("lab") == made
    with pytest.raises(ValueError, match="lab"):
        engine.store.create_project("lab", 2_000)
    changed = replace(made, content_policy="truncated", content_max_chars=80, redact_secrets=False,
                      redact_patterns=("ORD-[0-9]+",), retention_days=30)  # fmt: skip
    engine.store.update_project(changed)
    assert engine.store.project_by_id(made.id) == changed
    assert sorted(p.name for p in engine.store.projects()) == ["default", "lab"]
    assert engine.store.project("nope") is None
    assert engine.store.project_by_id(999) is None


def test_keys_are_stored_listed_used_and_revoked(engine: Engine) -> None:
    lab = engine.store.create_project("lab", 1_000)
    first = ApiKey("tl_00000000000000aa", 1, "ops", "full", 2_000)
    second = ApiKey("tl_00000000000000bb", lab.id, "bot", "ingest", 3_000)
    engine.store.add_key(first, b"hash-1")
    engine.store.add_key(second, b"hash-2")
    assert engine.store.key(first.id) == (first, b"hash-1")
    assert engine.store.api_keys() == [first, second]
    assert engine.store.api_keys(lab.id) == [second]
    engine.store.touch_key(first.id, 5_000)
    used = engine.store.key(first.id)
    assert used is not None
    assert used[0].last_used_ns == 5_000
    assert engine.store.revoke_key(first.id, 6_000) is True
    assert engine.store.revoke_key(first.id, 7_000) is False
    assert engine.store.revoke_key("tl_nope", 7_000) is False
    revoked = engine.store.key(first.id)
    assert revoked is not None
    assert revoked[0].revoked_ns == 6_000
    assert engine.store.key("tl_nope") is None
