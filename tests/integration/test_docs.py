"""What the docs say about configuration matches the settings table in the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.server.settings import SETTINGS, Setting

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0][:3].startswith("--") and cells[0][2:3].isalpha():
            rows[cells[0]] = cells
    return rows


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_with_its_env_var_and_default(setting: Setting) -> None:
    row = _rows().get(setting.flag)
    assert row is not None, f"{setting.flag} is missing from docs/configuration.md"
    assert row[1] == setting.env
    default = setting.default.name if isinstance(setting.default, Path) else str(setting.default)
    assert row[2] == default


def test_no_undocumented_or_stale_rows() -> None:
    assert set(_rows()) == {s.flag for s in SETTINGS}
