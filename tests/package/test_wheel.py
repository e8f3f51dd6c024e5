"""Threadline as a user installs it: built into an sdist and a wheel, installed into fresh virtual
environments, served from a relative data folder, fed by the SDK alone, read back by API and CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from firstrun.readme import ROOT
from firstrun.test_readme_path import started
from support.process import free_port

pytestmark = pytest.mark.slow

SDK_APP = """
import sys, threadline
threadline.configure(endpoint=sys.argv[1], service_name="wheel-check")
with threadline.session(session_id="s-wheel", user_id="alice@example.com"):
    for question in ("Hello?", "Where is my parcel?"):
        with threadline.turn(input=question) as turn:
            with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
                call.record(input_tokens=12, output_tokens=5)
            turn.output("On its way.")
assert threadline.flush(10), "the spans were not delivered"
threadline.shutdown()
"""


def pip_install(environment: Path, requirement: str) -> None:
    subprocess.run(
        [str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
        check=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    return out


def test_build_gives_an_sdist_and_a_wheel(dist: Path) -> None:
    assert len(list(dist.glob("threadline-*.tar.gz"))) == 1
    assert len(list(dist.glob("threadline-*-py3-none-any.whl"))) == 1


def test_the_wheel_serves_and_the_sdk_alone_sends(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    server_env = fresh_venv(tmp_path / "server-venv")
    pip_install(server_env, f"{wheel}[server]")
    sdk_env = fresh_venv(tmp_path / "sdk-venv")
    pip_install(sdk_env, str(wheel))

    # Without the server extra, the command says what to install, in one line.
    hint = subprocess.run([str(sdk_env / "bin" / "threadline"), "--help"], capture_output=True, text=True)
    assert hint.returncode == 1
    assert hint.stdout == ""
    assert hint.stderr.strip() == (
        "threadline: the command line needs the server extra; install it with: pip install 'threadline[server]'"
    )
    assert "Traceback" not in hint.stderr

    cwd = tmp_path / "work"
    cwd.mkdir()
    port = free_port()
    serve = [str(server_env / "bin" / "threadline"), "serve", "--port", str(port)]
    with started(serve, cwd, {}) as url:
        sent = subprocess.run([str(sdk_env / "bin" / "python"), "-c", SDK_APP, url], capture_output=True, text=True)
        assert sent.returncode == 0, sent.stderr
        session = httpx.get(f"{url}/api/v1/sessions/s-wheel", timeout=10).json()
        assert [t["input"] for t in session["turns"]] == ["Hello?", "Where is my parcel?"]
        assert session["llm_call_count"] == 2
        shown = subprocess.run(
            [str(server_env / "bin" / "threadline"), "sessions", "show", "s-wheel", "--url", url],
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "Where is my parcel?" in shown.stdout
        reference = httpx.get(f"{url}/docs", timeout=10)
        assert reference.status_code == 200
        assert "/static/threadline.css" in reference.text
        assert httpx.get(f"{url}/static/threadline.css", timeout=10).status_code == 200
    assert (cwd / "threadline-data" / "threadline.db").is_file()


def test_pip_wheel_builds_one_wheel_with_each_file_once(tmp_path: Path) -> None:
    """``pip wheel .`` as the README's readers run it; every migration is in the wheel, once."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (wheel,) = tmp_path.glob("threadline-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert len(names) == len(set(names))
    migrations = sorted(n for n in names if "/store/sqlite/migrations/" in n and n.endswith(".sql"))
    assert [Path(n).name[:4] for n in migrations] == [f"{v:04d}" for v in range(1, len(migrations) + 1)]
    assert any(n.endswith("store/clickhouse/migrations/0001_initial.sql") for n in names)
    assert any(n.endswith("dictionaries/spans-1.zdict") for n in names)
