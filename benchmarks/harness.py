"""Shared benchmark plumbing: start a server process, send bodies concurrently, time queries."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Every process started by ``pid``, and theirs."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ValueError):
            continue
        for child in children:
            found += [child, *_children(child)]
    return found


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    def peak_rss_mb(self) -> float:
        """The high-water resident set size (VmHWM) of the server and of its ingest workers, summed, in MiB."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        return total / 1024 if total else float("nan")

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())

    def stop(self) -> None:
        """Stop gracefully: the server checkpoints its WAL into the database file and truncates it."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(300)

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds used so far by the server's process and by its ingest workers (live ones)."""
        own = _process_cpu_seconds(self.process.pid)
        return own, sum(_process_cpu_seconds(pid) for pid in _children(self.process.pid))

    def time_figures(self) -> dict[str, float]:
        """The server's own figures of where its time went (``/metrics``): the writer's busy seconds, and
        each Python thread's CPU seconds by name."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        figures = {}
        for line in text.splitlines():
            if line.startswith("threadline_writer_busy_seconds_total "):
                figures["writer busy"] = float(line.split()[1])
            elif line.startswith("threadline_thread_cpu_seconds_total{"):
                name = line.split('"')[1]
                figures[f"thread {name}"] = figures.get(f"thread {name}", 0.0) + float(line.rsplit(" ", 1)[1])
        return figures


def _process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@dataclass
class TimeAccount:
    """Where each microsecond of an ingest went: the server's figures and CPU clocks read before and after,
    per span. On ``cores`` cores, ``cores`` × the wall time per span is all the CPU time there was."""

    server: ServerProcess
    spans: int
    cores: int
    _before: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0

    def start(self) -> None:
        self._before = self._read()
        self._started = time.perf_counter()

    def report(self) -> None:
        wall = time.perf_counter() - self._started
        after = self._read()
        us = {key: (after.get(key, 0.0) - self._before.get(key, 0.0)) / self.spans * 1e6 for key in after}
        per_span = wall / self.spans * 1e6
        print(f"\nwhere a span's time went (µs per span: one every {per_span:.1f} µs of wall clock; "
              f"{self.cores} cores: {self.cores * per_span:.1f} µs of CPU time):")  # fmt: skip
        busy = us.pop("writer busy", 0.0)
        writer = next((key for key in us if key.startswith("thread ") and key.endswith("writer")), None)
        writer_cpu = us.pop(writer, 0.0) if writer else 0.0
        print(f"  {'writer, busy (wall clock)':<62}{busy:>8.1f}   {busy / per_span:>4.0%} of the wall clock")
        print(f"  {'  on CPU: stitch, fold, texts, encode, SQL':<62}{writer_cpu:>8.1f}")
        print(f"  {'  waiting: for the interpreter lock, disk':<62}{busy - writer_cpu:>8.1f}")
        threads = {key: value for key, value in us.items() if key.startswith("thread ")}
        named = {
            "thread MainThread": "the event loop: HTTP",
            "thread AnyIO worker thread": "decode and prepare, or unpack from workers",
            "thread threadline-checkpoint": "WAL checkpoints",
        }
        for key, value in sorted(threads.items(), key=lambda item: -item[1]):
            if value >= 0.05:
                label = f"{key.removeprefix('thread ')}" + (f" ({named[key]})" if key in named else "")
                print(f"  {label:<62}{value:>8.1f}")
        native = us["server cpu"] - writer_cpu - sum(threads.values())
        print(f"  {'server, other threads (native, or ended)':<62}{max(native, 0.0):>8.1f}")
        print(f"  {'ingest worker processes':<62}{us['workers cpu']:>8.1f}")
        print(f"  {'the senders (this process)':<62}{us['senders cpu']:>8.1f}")
        used = us["server cpu"] + us["workers cpu"] + us["senders cpu"]
        print(f"  {'CPU time used / idle':<62}{used:>8.1f} / {self.cores * per_span - used:.1f}")

    def _read(self) -> dict[str, float]:
        figures = self.server.time_figures()
        figures["server cpu"], figures["workers cpu"] = self.server.cpu_seconds()
        figures["senders cpu"] = time.process_time()
        return figures


def wait_until_up(port: int, path: str = "/healthz", timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


def store_args(store: str, data_dir: Path) -> list[str]:
    """``serve`` options for a storage engine, its data under ``data_dir`` (ClickHouse: chdb in process)."""
    if store == "clickhouse":
        return ["--store", "clickhouse", "--clickhouse-url", f"chdb://{data_dir / 'clickhouse'}"]
    return []


@contextmanager
def threadline_server(extra_args: Sequence[str] = (), store: str = "sqlite") -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as tmp:
        port = free_port()
        data_dir = Path(tmp) / "data"
        process = subprocess.Popen(
            [sys.executable, "-m", "threadline.server.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
             *store_args(store, data_dir), *extra_args],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        server = ServerProcess(process, port, data_dir)
        try:
            wait_until_up(port)
            yield server
        finally:
            server.stop()


@dataclass
class SendResult:
    seconds: float
    requests: int
    retries: int = 0
    failures: list[str] = field(default_factory=list)


def send_all(
    port: int,
    bodies: Sequence[bytes],
    senders: int,
    path: str = "/v1/traces",
    headers: dict[str, str] | None = None,
    done: Callable[[], bool] | None = None,
) -> SendResult:
    """POST every body with ``senders`` concurrent keep-alive connections; retry 429/503 as clients do.

    The clock stops when ``done()`` is true (polled after the last response), so that end-to-end
    figures include the time until the data is queryable.
    """
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    result = SendResult(0.0, len(bodies))
    send_headers = {"Content-Type": "application/x-protobuf", **(headers or {})}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            while True:
                conn.request("POST", path, body=bodies[index], headers=send_headers)
                response = conn.getresponse()
                response.read()
                if response.status in (429, 503):
                    with lock:
                        result.retries += 1
                    time.sleep(float(response.getheader("Retry-After") or 1) / 10)
                    continue
                if response.status != 200:
                    with lock:
                        result.failures.append(f"{response.status}")
                break

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while done is not None and not done():
        time.sleep(0.02)
    result.seconds = time.perf_counter() - start
    return result


def get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} -> {response.status}: {body[:300]!r}")
    return json.loads(body)


def p50_ms(port: int, paths: Sequence[str], rounds: int = 1) -> float:
    """Median latency of GET requests over one keep-alive connection, in milliseconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            samples.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {path} -> {response.status}")
    return statistics.median(samples)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
