"""``docs/openapi.json`` is the API as the code describes it; regenerate it by running this file."""

from __future__ import annotations

import json
from pathlib import Path

from threadline.server.app import create_app
from threadline.server.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def current() -> str:
    spec = create_app(Settings()).openapi()
    spec["info"]["version"] = "(see /openapi.json of a running server)"
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def test_the_committed_openapi_document_is_current() -> None:
    stale = "docs/openapi.json is out of date: run python tests/integration/test_openapi.py"
    assert DOC.read_text() == current(), stale


def test_every_error_response_uses_the_error_shape() -> None:
    spec = json.loads(current())
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")) and status != "422":
                    schema = response["content"]["application/json"]["schema"]["$ref"]
                    assert schema.endswith("/ErrorBody"), (method, path, status)


if __name__ == "__main__":
    DOC.write_text(current())
