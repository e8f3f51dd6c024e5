"""``threadline serve`` as a real child process, for tests of the CLI and of crash safety."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def threadline(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadline.server.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str
    first_line: str

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)


@contextmanager
def serve(data_dir: Path, *extra: str) -> Iterator[ServeProcess]:
    """Start ``threadline serve`` and wait for the line announcing its URL (its readiness signal)."""
    port = free_port()
    command = [sys.executable, "-m", "threadline.server.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline().strip() if ready else ""
        try:
            if "listening on" not in line:
                process.kill()
                raise RuntimeError(f"threadline serve did not start: {line!r} {process.stderr.read()}")
            yield ServeProcess(process, f"http://127.0.0.1:{port}", line)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
