"""Ingest, Threadline against Arize Phoenix: the same spans, senders and acceptance check, in one run.

    .venv/bin/python benchmarks/baseline.py                          # 20,000 spans, 4 senders
    .venv/bin/python benchmarks/baseline.py --spans 40000 --senders 4 --repeats 3

Both servers get the same request bodies (``workload.py``, seeded: 500 spans a request, 4 spans a
turn, 5 turns a session), sent by the same senders (``harness.send_all``), one server at a time and
each fresh with an empty database: Threadline first, then Phoenix, then again for each repeat.
Timing starts only once a server answers its health check, so neither start-up is counted. Each
clock runs from the first request until the server's own SQLite database holds every span, and the
check is the same for both: ``SELECT count(*) FROM spans`` on a read-only connection to the database
file (Threadline: ``threadline.db`` in its ``--data-dir``; Phoenix: ``phoenix.db`` in
``PHOENIX_WORKING_DIR``, found by looking there for the SQLite file with a ``spans`` table), polled
every ``POLL_S`` seconds once the last request has been answered. The count sees committed rows
only, so a span counts once it is stored, whenever the server acknowledged it.

Why 20,000 spans (``DEFAULT_SPANS``): Phoenix answers each OTLP request as soon as it has parsed it
(all 40 requests are answered within about 1.5 s, before a single span is stored); one background
task on its event loop then stores the queued spans, 100 to a transaction, at about one core's worth
of work: 120-240 spans/s on a 2-core machine. So 20,000 spans keep it busy for 85-170 s, well past
60 s, and the first second or two before its first commit weigh on its rate by a few per cent at
most (its start-up, about 8 s of migrations, is outside the clock anyway). 20,000 also stays just
under Phoenix's default span queue (``PHOENIX_MAX_SPANS_QUEUE_SIZE``, 20,000 spans, past which it
answers 503; the senders would retry). Threadline stores the same 20,000 spans in the same run, so
the ratio compares like with like; its figure at 1,000,000 spans is ``ingest.py``'s.

Also reported: each server's peak RSS (the high-water mark, VmHWM, of the server process and any
children), when its last request was answered and how many spans were stored by then, the server's
own CPU use, and the CPU that other processes on the machine used during the run (in cores): a run
during which they used more than ``BUSY_CORES`` is flagged as disturbed.

Phoenix is installed on first use into ``benchmarks/.venv-phoenix`` (its own virtual environment, so
its dependencies never mix with Threadline's) and started with a fresh working directory and no
``PHOENIX_*`` settings from the caller's environment but its ports, host and telemetry switch.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import cpu_count, free_port, send_all, threadline_server, wait_until_up
from workload import Workload, requests

VENV = Path(__file__).resolve().parent / ".venv-phoenix"
PHOENIX = "arize-phoenix>=8"
DEFAULT_SPANS = 20_000
POLL_S = 0.05
"""How often both servers' span count is read once every request has been answered."""
TARGET_RATIO = 10.0
BUSY_CORES = 0.25
"""CPU used by other processes during a run, in cores, above which the run is flagged as disturbed."""
SQLITE_HEADER = b"SQLite format 3\x00"
CHECK = (
    "SELECT count(*) FROM spans on each server's own SQLite file, opened read-only, polled every "
    f"{POLL_S} s after the last request is answered; clock from the first request (sent once the "
    "server answers its health check) until the count reaches the total"
)


@dataclass(frozen=True)
class Run:
    server: str
    spans: int
    seconds: float
    """From the first request until the stored count reached ``spans``."""
    acked_seconds: float
    """From the first request until the last one was answered."""
    stored_at_ack: int
    """Spans stored when the last request was answered."""
    retries: int
    peak_rss_mib: float
    server_cores: float
    """The server's CPU time over ``seconds``."""
    other_cores: float
    """CPU time of every other process on the machine (but this one) over ``seconds``."""
    database: Path

    @property
    def rate(self) -> float:
        return self.spans / self.seconds

    def line(self) -> str:
        return (
            f"{self.server:<10} {self.rate:>9,.1f} spans/s  {self.spans:,} spans stored in {self.seconds:7.2f}s "
            f"(all answered at {self.acked_seconds:.2f}s with {self.stored_at_ack:,} stored; {self.retries} retries)  "
            f"peak RSS {self.peak_rss_mib:,.0f} MiB  server CPU {self.server_cores:.2f} cores  "
            f"other processes {self.other_cores:.2f} cores"
            + ("  <- machine busy: this figure is disturbed" if self.other_cores > BUSY_CORES else "")
        )


@dataclass(frozen=True)
class Comparison:
    threadline: Run
    baseline: Run

    @property
    def ratio(self) -> float:
        return self.threadline.rate / self.baseline.rate


def _ensure_phoenix() -> Path:
    executable = VENV / "bin" / "phoenix"
    if not executable.exists():
        print(f"installing {PHOENIX} into {VENV} (once; takes a few minutes)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", PHOENIX], check=True)
    return executable


def phoenix_version() -> str:
    python = VENV / "bin" / "python"
    script = "import importlib.metadata as m; print(m.version('arize-phoenix'))"
    return subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def _has_spans_table(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return False
        with closing(_connect_read_only(path)) as conn:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spans'"
            return conn.execute(query).fetchone() is not None
    except (OSError, sqlite3.Error):
        return False


def find_phoenix_database(working_dir: Path, timeout: float = 60.0) -> Path:
    """The SQLite file under Phoenix's working directory that holds its ``spans`` table.

    Phoenix has kept it at ``phoenix.db`` there since it moved to SQL storage; any other SQLite file
    with a ``spans`` table is accepted too, so that a renamed file does not break the benchmark.
    """
    deadline = time.monotonic() + timeout
    while True:
        files = sorted((p for p in working_dir.rglob("*") if p.is_file()), key=lambda p: (p.name != "phoenix.db", p))
        for path in files:
            if _has_spans_table(path):
                return path
        if time.monotonic() > deadline:
            listed = ", ".join(str(p.relative_to(working_dir)) for p in files) or "no files"
            raise RuntimeError(
                f"Phoenix answers its health check, but no SQLite database with a 'spans' table appeared under its "
                f"working directory {working_dir} within {timeout:.0f}s (found: {listed}). This Phoenix version "
                f"keeps its spans elsewhere, so its stored spans cannot be counted: pin an earlier version in "
                f"PHOENIX ({PHOENIX!r}) and delete {VENV}."
            )
        time.sleep(0.5)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10)


def _process_tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        try:
            for task in Path(f"/proc/{pids[index]}/task").iterdir():
                pids.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            pass
        index += 1
    return pids


def peak_rss_mib(pid: int) -> float:
    """The high-water RSS (VmHWM) of a process and its descendants, added up, in MiB."""
    total_kib = 0
    for member in _process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (all its threads) and its descendants."""
    ticks = 0
    for member in _process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(server: str, pid: int, port: int, database: Path, bodies: Sequence[bytes], total: int, senders: int) -> Run:
    """Send ``bodies`` to a server that is up, and time it until its database counts ``total`` more spans."""
    timeout_s = 600 + total / 20
    with closing(_connect_read_only(database)) as conn:

        def count() -> int:
            return int(conn.execute("SELECT count(*) FROM spans").fetchone()[0])

        already = count()
        acked: dict[str, float] = {}
        cpu_before = (_machine_busy_seconds(), _cpu_seconds(pid), _own_cpu_seconds())
        start = time.perf_counter()

        def all_stored() -> bool:
            acked["seconds"] = time.perf_counter() - start
            acked["stored"] = stored = count() - already
            while stored < total:
                if time.perf_counter() - start > timeout_s:
                    raise TimeoutError(f"{server} stored {stored} of {total} spans within {timeout_s:.0f}s")
                time.sleep(POLL_S)
                stored = count() - already
            if stored != total:
                raise RuntimeError(f"{server} stored {stored} spans; {total} were sent")
            return True

        sent = send_all(port, bodies, senders, done=all_stored)
    machine, server_cpu, own = (
        after - before
        for after, before in zip(
            (_machine_busy_seconds(), _cpu_seconds(pid), _own_cpu_seconds()), cpu_before, strict=True
        )
    )
    if sent.failures:
        raise RuntimeError(f"{server} refused {len(sent.failures)} requests: {sorted(set(sent.failures))}")
    return Run(
        server=server,
        spans=total,
        seconds=sent.seconds,
        acked_seconds=acked["seconds"],
        stored_at_ack=int(acked["stored"]),
        retries=sent.retries,
        peak_rss_mib=peak_rss_mib(pid),
        server_cores=server_cpu / sent.seconds,
        other_cores=max(machine - server_cpu - own, 0.0) / sent.seconds,
        database=database,
    )


def run_threadline(bodies: Sequence[bytes], total: int, senders: int) -> Run:
    from threadline.server.store.sqlite.db import DB_FILENAME

    with threadline_server() as server:
        database = server.data_dir / DB_FILENAME
        if not database.exists():
            raise RuntimeError(f"Threadline is up but its database {database} does not exist")
        return measure("Threadline", server.process.pid, server.port, database, bodies, total, senders)


def _wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Phoenix exited with status {process.returncode}; its log ends:\n{_tail(log)}")
        try:
            wait_until_up(port, "/healthz", timeout=1)
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Phoenix did not answer /healthz within {timeout:.0f}s; its log ends:\n{_tail(log)}"
                ) from None


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def phoenix_server() -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A fresh Phoenix that answers its health check: its process, HTTP port and span database."""
    executable = _ensure_phoenix()
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as tmp:
        working_dir = Path(tmp) / "working"
        working_dir.mkdir()
        log = Path(tmp) / "phoenix.log"
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("PHOENIX_")}
        env |= {
            "PHOENIX_WORKING_DIR": str(working_dir),
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        with log.open("wb") as out:
            process = subprocess.Popen([str(executable), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for_health(process, port, log, timeout=300)
            yield process, port, find_phoenix_database(working_dir)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_phoenix(bodies: Sequence[bytes], total: int, senders: int) -> Run:
    with phoenix_server() as (process, port, database):
        return measure("Phoenix", process.pid, port, database, bodies, total, senders)


BASELINES: dict[str, Callable[[Sequence[bytes], int, int], Run]] = {"phoenix": run_phoenix}


def compare_ingest(
    baseline: str = "phoenix", spans: int = DEFAULT_SPANS, senders: int = 4, *, seed: int = 7, repeats: int = 1
) -> list[Comparison]:
    """Threadline's and the baseline's end-to-end ingest rates on the same spans, printed with their ratio."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; known: {', '.join(BASELINES)}")
    workload = Workload(sessions=max(spans // 20, 1), seed=seed)
    total = workload.total_spans
    bodies = list(requests(workload, time.time_ns()))
    name = baseline
    if baseline == "phoenix":
        _ensure_phoenix()
        name = f"Phoenix {phoenix_version()}"
    print(
        f"\ningest comparison: Threadline vs {name}; {total:,} spans ({workload.sessions:,} sessions, "
        f"{len(bodies)} requests, seed {seed}) to each, {senders} senders, {cpu_count()} cores, "
        f"{repeats} repeat(s)\n  check: {CHECK}",
        flush=True,
    )
    comparisons = []
    for repeat in range(1, repeats + 1):
        threadline = run_threadline(bodies, total, senders)
        print(f"  [{repeat}] {threadline.line()}", flush=True)
        other = BASELINES[baseline](bodies, total, senders)
        print(f"  [{repeat}] {other.line()}", flush=True)
        comparison = Comparison(threadline, other)
        print(f"  [{repeat}] Threadline / {other.server} ingest ratio: {comparison.ratio:,.1f}x", flush=True)
        comparisons.append(comparison)
    print()
    _summary(comparisons)
    return comparisons


def _spread(values: Sequence[float], unit: str = "", digits: int = 0) -> str:
    text = f"{statistics.median(values):,.{digits}f}{unit}"
    if len(values) > 1:
        text += f" (median of {len(values)}; {min(values):,.{digits}f}-{max(values):,.{digits}f})"
    return text


def _summary(comparisons: Sequence[Comparison]) -> None:
    name = comparisons[0].baseline.server
    for label, runs in (("Threadline", [c.threadline for c in comparisons]), (name, [c.baseline for c in comparisons])):
        print(f"  {label + ' ingest:':<20}{_spread([r.rate for r in runs], ' spans/s', 1)}; peak RSS "
              f"{_spread([r.peak_rss_mib for r in runs], ' MiB')}; other processes "
              f"{_spread([r.other_cores for r in runs], ' cores', 2)}")  # fmt: skip
    ratios = [c.ratio for c in comparisons]
    ok = statistics.median(ratios) >= TARGET_RATIO
    print(f"  Threadline / {name} ingest ratio: {_spread(ratios, 'x', 1)} "
          f"(target >= {TARGET_RATIO:.0f}x) {'OK' if ok else 'MISSED'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--spans",
        type=int,
        default=DEFAULT_SPANS,
        help="spans sent to each server (rounded down to whole sessions of 20)",
    )
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders, the same for both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs, each on fresh servers")
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="phoenix")
    args = parser.parse_args()
    compare_ingest(args.baseline, args.spans, args.senders, seed=args.seed, repeats=args.repeats)


if __name__ == "__main__":
    main()
