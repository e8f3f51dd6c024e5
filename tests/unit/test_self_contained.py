"""The project reads whole: code, docs and scripts cite its own documents, never files outside the
repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"SEMCONV\.md|SPEC\.md|SPEC §|\.\./shared")
TEXT = {".py", ".md", ".html", ".js", ".css", ".sql", ".sh", ".toml", ".txt", ".json", ".cfg", ".yml", ".yaml", ""}


def test_nothing_cites_a_file_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [ROOT / name for name in tracked.splitlines() if not name.startswith("tests/")]
    files = [p for p in files if p.suffix in TEXT and p.is_file()]
    assert len(files) > 100
    found = [f"{p.relative_to(ROOT)}: {m[0]}" for p in files for m in OUTSIDE.finditer(p.read_text(errors="replace"))]
    assert found == []
