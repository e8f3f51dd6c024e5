"""The benchmarks' seeded session generator, as decoded spans."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.records import RawSpan

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "workload.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("threadline_bench_workload", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


WORKLOAD = _module()
NOW_NS = 1_800_000_000 * 10**9


def bodies(sessions: int, turns: int = 4, per_request: int = 40, seed: int = 7, now_ns: int = NOW_NS) -> list[bytes]:
    """OTLP/protobuf request bodies of a seeded workload."""
    workload = WORKLOAD.Workload(sessions=sessions, turns_per_session=turns, spans_per_request=per_request, seed=seed)
    return list(WORKLOAD.requests(workload, now_ns))


def spans(body: bytes) -> list[RawSpan]:
    return decode_protobuf(body).spans


def now_ns() -> int:
    return time.time_ns()
