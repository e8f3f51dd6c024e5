"""Replay the captured OTLP requests of ``tests/data/corpus`` exactly as the clients sent them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
FOLDERS = sorted(p.name for p in CORPUS.iterdir() if (p / "manifest.json").exists())


@dataclass
class CapturedRequest:
    path: str
    body: bytes
    headers: dict[str, str]


def manifest(folder: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((CORPUS / folder / "manifest.json").read_text())
    return doc


def trace_requests(folder: str) -> list[CapturedRequest]:
    requests = []
    for entry in manifest(folder)["files"]:
        headers = {"Content-Type": entry["content_type"]}
        if entry.get("content_encoding"):
            headers["Content-Encoding"] = entry["content_encoding"]
        body = (CORPUS / folder / entry["file"]).read_bytes()
        requests.append(CapturedRequest(entry["endpoint_path"], body, headers))
    return requests


def replay(client: httpx.Client, folder: str) -> None:
    for request in trace_requests(folder):
        response = client.post(request.path, content=request.body, headers=request.headers)
        assert response.status_code == 200, response.text


def expected_user_id(folder: str, plain: str) -> str:
    """The user id as the folder's client sent it: in clear, or hashed (sha256, 32 hex) by the app."""
    observed = {
        value for f in manifest(folder)["files"] for values in f.get("user_ids_by_key", {}).values() for value in values
    }
    return plain if plain in observed else hashlib.sha256(plain.encode()).hexdigest()[:32]
