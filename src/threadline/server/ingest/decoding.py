"""Trace requests decoded on the other cores: worker processes that decode, protect and prepare.

The server's interpreter runs one Python thread at a time, and its writer (stitch, fold, store) needs most
of it; decoding a request, applying the project's privacy and normalizing and pricing its spans need
nothing the writer holds, so ``--ingest-workers`` processes do it and send back the spans ready for the
writer (``handoff``). A request whose worker dies (killed, out of memory) is answered 503 with
``Retry-After``, like any overload: nothing of it was acknowledged, and the client sends it again. The
pool is then replaced, so the next request finds a fresh worker.

With no workers (``--ingest-workers 0``, the default), the same function runs on a thread of the server's
process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from threadline.server.errors import Overloaded
from threadline.server.ingest import decode, handoff
from threadline.server.ingest.handoff import Prepared
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.privacy import Privacy, protect
from threadline.server.ingest.records import Limits

log = logging.getLogger("threadline.ingest")

_preparer: Preparer | None = None
"""The worker process's own preparer (its price data loaded once, when the worker starts)."""


def prepare_request(preparer: Preparer, body: bytes, is_json: bool, limits: Limits, privacy: Privacy) -> Prepared:
    """Decode, apply the project's privacy (before anything else sees the values), prepare."""
    batch = decode.decode_json(body, limits) if is_json else decode.decode_protobuf(body, limits)
    if batch.spans:
        protect(batch.spans, privacy)
    return Prepared(preparer.prepare(batch.spans), batch.rejected, tuple(batch.reasons))


def _start_worker() -> None:
    global _preparer
    _preparer = Preparer()
    gc.freeze()  # what the worker loaded stays; only what each request makes is collected


def _in_worker(body: bytes, is_json: bool, limits: Limits, privacy: Privacy) -> bytes:
    assert _preparer is not None
    return handoff.pack(prepare_request(_preparer, body, is_json, limits, privacy))


class DecodePool:
    """``workers`` processes, started with the server (``spawn``: a fork of a process running threads could
    inherit a lock held by one of them)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._executor = self._start()
        self.replaced = 0
        """Times the pool was replaced after a worker died."""

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
        )
        for _ in range(self.workers):  # start them now rather than on the first request
            executor.submit(gc.collect)
        return executor

    async def prepare(self, body: bytes, is_json: bool, limits: Limits, privacy: Privacy) -> bytes:
        """``prepare_request`` in a worker, packed (``handoff.unpack`` gives the ``Prepared``)."""
        executor = self._executor
        try:
            packed: bytes = await asyncio.wrap_future(executor.submit(_in_worker, body, is_json, limits, privacy))
        except BrokenProcessPool:
            self._replace(executor)
            raise Overloaded("A decoding worker stopped while reading this request; send it again.") from None
        return packed

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:  # another request replaced it already
                return
            log.error("an ingest worker stopped; starting new ones")
            self._executor = self._start()
            self.replaced += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and metrics)."""
        return [process.pid for process in (self._executor._processes or {}).values() if process.pid is not None]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
