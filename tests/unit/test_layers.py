"""The dependency arrows point one way (docs/storage.md): ingest and intelligence never import the store or
what serves requests; an engine never imports what serves requests, nor another engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "src" / "threadline" / "server"
SERVING = ("threadline.server.api", "threadline.server.web", "threadline.server.cli", "threadline.server.queries")
FORBIDDEN = {
    "ingest": ("threadline.server.store", *SERVING),
    "intelligence": ("threadline.server.store", *SERVING),
    "store": SERVING,
    "store/sqlite": ("threadline.server.store.clickhouse",),
    "store/clickhouse": ("threadline.server.store.sqlite",),
}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, type-checking-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_against_the_arrows(package: str) -> None:
    modules = sorted((SERVER / package).rglob("*.py"))
    assert modules, f"no module in {package}"
    wrong = [
        f"{path.relative_to(SERVER)} imports {name}"
        for path in modules
        for name in sorted(imports(path))
        if name.startswith(FORBIDDEN[package])
    ]
    assert wrong == []


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from threadline.server.store.base import Store\n"
    )
    assert "threadline.server.store.base" in imports(module)
