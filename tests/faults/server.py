"""``threadline serve`` in a child process for the fault tests, with its memory high-water mark; optionally
with a slowed writer (``--commit-delay``), to make a flood outrun it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.process import free_port

LAUNCHER = Path(__file__).with_name("launch.py")


@dataclass
class Child:
    process: subprocess.Popen[str]
    url: str

    def peak_rss_mb(self) -> float:
        """The process's resident-memory high-water mark (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def stop(self) -> tuple[int, str]:
        """Stop it as an operator would (SIGINT); its exit code and what it wrote to stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(30)
        return code, self.process.stderr.read() if self.process.stderr else ""

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


@contextmanager
def serve(data_dir: Path, *args: str, commit_delay: float = 0.0, port: int | None = None) -> Iterator[Child]:
    port = port or free_port()
    command = [sys.executable, str(LAUNCHER), str(commit_delay), "--port", str(port), "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    with subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as p:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], 60)
        line = p.stdout.readline() if ready else ""
        if "listening on" not in line:
            p.kill()
            raise RuntimeError(f"the server did not start: {line!r} {p.stderr.read() if p.stderr else ''}")
        child = Child(p, f"http://127.0.0.1:{port}")
        try:
            yield child
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def wait_idle(url: str, timeout_s: float = 60) -> None:
    """Until the writer has nothing pending (everything acknowledged is committed by then anyway)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/healthz", timeout=10).json()["pending_spans"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the writer did not drain")
