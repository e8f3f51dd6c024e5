"""Run ``threadline serve`` with a writer slowed by ``argv[1]`` seconds per commit (0: as shipped)."""

from __future__ import annotations

import sys
import time

from threadline.server.cli.main import main
from threadline.server.ingest import job_queue, writer


def slowed(delay: float) -> None:
    apply = writer.Writer._apply

    def slow_apply(self: writer.Writer, jobs: list[job_queue.Job]) -> list[writer.ChangeSet]:
        time.sleep(delay)
        return apply(self, jobs)

    writer.Writer._apply = slow_apply  # type: ignore[method-assign]


if __name__ == "__main__":
    delay = float(sys.argv.pop(1))
    if delay:
        slowed(delay)
    sys.argv[0] = "threadline"
    main(["serve", *sys.argv[1:]])
