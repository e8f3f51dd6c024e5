"""Make ``v3.db.gz`` and ``v3.json.gz``: a database written by Threadline at schema version 3 (before projects,
keys and stored-once texts), and what that Threadline's API showed of it.

Run with this checkout's environment, pointing at a checkout of that version (commit ``f762174^``):

    git worktree add /tmp/threadline-v3 f762174^
    .venv/bin/python tests/data/legacy/make_fixture.py /tmp/threadline-v3/src

It starts that version's ``threadline serve`` on a fresh data folder, replays every corpus folder and a few
multi-turn sessions (``SESSIONS``), reads everything back through the API (``integration.test_two_servers.view``),
stops the server (its WAL checkpointed into the file) and writes the two files next to this script.
"""

from __future__ import annotations

import gzip
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for support and integration

from integration.test_two_servers import view  # noqa: E402
from support.corpus import FOLDERS, replay  # noqa: E402
from support.otlp import PROTOBUF, request  # noqa: E402
from support.scenario import Session  # noqa: E402

SESSIONS = 6
"""Sessions of several turns, users and outcomes, ``legacy-s-N``."""


def sessions() -> list[Session]:
    made = []
    for n in range(SESSIONS):
        session = Session(f"legacy-s-{n}", user_id=f"legacy-user-{n % 3}")
        for t in range(2 + n % 3):
            session.turn(
                n * 30 + t * 120.0,
                question=f"question {t} of session {n}: " + "where is my parcel? " * (5 + t),
                answer=f"answer {t} of session {n}: " + "it ships tomorrow. " * (8 + t),
                input_tokens=200 * (t + 1),
                output_tokens=40 + n,
                tool_error="timeout" if (n + t) % 4 == 0 else None,
            )
        made.append(session)
    return made


def main() -> None:
    source = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [sys.executable, "-m", "threadline.server.cli", "serve", "--port", str(port), "--data-dir", str(data)]
        env = {**os.environ, "PYTHONPATH": str(source)}
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 60)
            assert ready, "the server did not start"
            assert "listening on" in server.stdout.readline()
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=60) as client:
                version = client.get("/healthz").json()
                for folder in FOLDERS:
                    replay(client, folder)
                for session in sessions():
                    assert client.post("/v1/traces", content=request(*session.spans), headers=PROTOBUF).is_success
            shown = view(url)
            server.terminate()
            server.wait(60)
        (HERE / "v3.db.gz").write_bytes(gzip.compress((data / "threadline.db").read_bytes(), mtime=0))
        view_json = json.dumps({"healthz": version, "view": shown}, indent=1, sort_keys=True)
        (HERE / "v3.json.gz").write_bytes(gzip.compress(view_json.encode(), mtime=0))
    print(f"wrote {HERE / 'v3.db.gz'} and {HERE / 'v3.json.gz'}: {shown['stats']}")


if __name__ == "__main__":
    main()
