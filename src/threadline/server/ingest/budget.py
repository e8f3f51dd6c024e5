"""How much request body ingest holds at once, in bytes: the bound that keeps memory flat under a flood.

A request holds its bytes from the first one read until its spans are committed (decoded spans take a
few times their wire size, so the wire size is a fair proxy for what is in memory). When a request
would take the total past the limit, it is refused before more is read: 503 with Retry-After, which
OTLP exporters retry. An idle server always admits one request, however large (up to the body limit).
Used on the event loop only, so it needs no lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadline.server.errors import Overloaded

RETRY_AFTER_S = 1


class IngestBudget:
    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.held_bytes = 0
        self.refused = 0

    @contextmanager
    def hold(self) -> Iterator[Hold]:
        """A request's share, released when the block ends (after its spans are committed, or it failed)."""
        share = Hold(self)
        try:
            yield share
        finally:
            self.held_bytes -= share.bytes


class Hold:
    """One request's bytes in the budget."""

    def __init__(self, budget: IngestBudget) -> None:
        self._budget = budget
        self.bytes = 0

    def expect(self, size: int) -> None:
        """Refuse at once (``Overloaded``) a request announcing ``size`` bytes that cannot fit now."""
        self._check(size)

    def take(self, size: int) -> None:
        """Count ``size`` more bytes; raises ``Overloaded`` (nothing taken) when the budget is spent."""
        self._check(size)
        self._budget.held_bytes += size
        self.bytes += size

    def _check(self, size: int) -> None:
        budget = self._budget
        others = budget.held_bytes - self.bytes
        if others > 0 and budget.held_bytes + size > budget.limit_bytes:
            budget.refused += 1
            raise Overloaded(
                f"The server holds {budget.held_bytes} bytes of requests being ingested (limit "
                f"{budget.limit_bytes}). Retry after the Retry-After delay.",
                retry_after_s=RETRY_AFTER_S,
            )
