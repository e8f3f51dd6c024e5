"""A database written by an older Threadline is upgraded in place and shows what it showed.

``tests/data/legacy/v3.db.gz`` was written by Threadline at schema version 3 (before projects, keys and texts
stored once) from the corpus and a few multi-turn sessions; ``v3.json.gz`` is what that version's API showed of it
(``make_fixture.py`` says how both were made). Opening it migrates it to the current version; every value the
old API showed is then shown the same, and the old sessions take new turns.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

from integration.test_two_servers import _timeless, view
from support.otlp import PROTOBUF, request
from support.scenario import Session
from support.server import run_server
from threadline.server.store.sqlite import db

LEGACY = Path(__file__).resolve().parent.parent / "data" / "legacy"


def legacy_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    db.database_path(data).write_bytes(gzip.decompress((LEGACY / "v3.db.gz").read_bytes()))
    return data


def shown_before() -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(gzip.decompress((LEGACY / "v3.json.gz").read_bytes()))["view"]
    return shown


def shown_user(user_id: str) -> dict[str, Any]:
    return next(u for u in shown_before()["users"] if u["user_id"] == user_id)


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where ``after`` does not show what ``before`` showed (members ``after`` adds are not differences; costs
    are now given to 1e-12 USD, so numbers need only agree to that)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            d for key, value in before.items() for d in differences(value, after.get(key, _MISSING), f"{path}.{key}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, pair in enumerate(zip(before, after, strict=True)) for d in differences(*pair, f"{path}[{i}]")]
    if isinstance(before, float) and isinstance(after, float | int):
        return [] if math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {before!r} -> {after!r}"]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


_MISSING = object()


def test_a_version_3_database_is_migrated_and_shows_what_it_showed(tmp_path: Path) -> None:
    data = legacy_data(tmp_path)
    before = shown_before()
    assert before["stats"]["session_count"] > 10  # the corpus's sessions and the fixture's own
    with run_server(data) as server:
        after = view(server.url)
    conn = db.connect_reader(db.database_path(data))
    try:
        assert db.schema_version(conn) == len(db.migrations())
    finally:
        conn.close()
    assert differences(_timeless(before), _timeless(after)) == []


def test_an_upgraded_session_takes_new_turns(tmp_path: Path) -> None:
    data = legacy_data(tmp_path)
    old = next(d for sid, d in shown_before()["details"].items() if sid == "legacy-s-2")
    with run_server(data) as server, server.client() as client:
        later = Session("legacy-s-2", user_id=old["user_id"], turns=old["turn_count"])  # numbers the next turn
        later.turn(3600.0, question="one more question after the upgrade", answer="and its answer")
        for span in later.spans:  # ids this process hands out may be the fixture's: those would be retries
            span.trace_id = b"\xee" * 8 + span.trace_id[8:]
        assert client.post("/v1/traces", content=request(*later.spans), headers=PROTOBUF).is_success
        detail = client.get("/api/v1/sessions/legacy-s-2").json()
        user = client.get(f"/api/v1/users/{old['user_id']}").json()
    assert detail["turn_count"] == old["turn_count"] + 1
    assert detail["turns"][-1]["input"] == "one more question after the upgrade"
    assert differences(_timeless(old["turns"]), _timeless(detail["turns"][:-1])) == []
    assert detail["input_tokens"] == old["input_tokens"] + 100  # the new turn's call (Session.turn's default)
    assert user["turn_count"] == shown_user(old["user_id"])["turn_count"] + 1
