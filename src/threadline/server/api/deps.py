"""What request handlers need from the running server, held on ``app.state``; how a user id is matched."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from anyio import CapacityLimiter
from fastapi import Depends
from starlette.requests import Request

from threadline import hash_user_id
from threadline.server.auth.access import project_of
from threadline.server.auth.authenticate import Authenticator, FailureLimiter
from threadline.server.ingest.budget import IngestBudget
from threadline.server.ingest.decoding import DecodePool
from threadline.server.ingest.port import SpanWriter
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.privacy import Privacy
from threadline.server.live import LiveUpdates
from threadline.server.policies import Policies
from threadline.server.settings import Settings
from threadline.server.store.base import Store

DEFAULT_PROJECT = 1
Clock = Callable[[], int]
"""Returns the current time in nanoseconds since the epoch."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    writer: SpanWriter
    preparer: Preparer
    live: LiveUpdates
    budget: IngestBudget
    decoding: CapacityLimiter
    """Requests decoded at once, on worker threads (the event loop stays free for other requests)."""
    decoders: DecodePool | None = None
    """The processes that decode trace requests (None: they are decoded on the threads above)."""
    clock: Clock = time.time_ns
    authenticator: Authenticator | None = None
    """Checks API keys and web sessions (None when --auth is off)."""
    failures: FailureLimiter = field(default_factory=FailureLimiter)
    """Failed sign-ins per client address (past a limit, refused for a while)."""
    policies: Policies | None = None
    """Each project's privacy at ingest (set by the app; built from the store and settings when None)."""

    idle_timeout_ns: int = 30 * 60 * 10**9

    def __post_init__(self) -> None:
        if self.policies is None:
            self.policies = Policies(self.store, self.settings)

    def privacy(self, project_id: int) -> Privacy:
        """What ``project_id``'s spans go through before they are written. Blocking (a store read, cached)."""
        assert self.policies is not None
        return self.policies.of(project_id)

    def forget_project(self, project_id: int) -> None:
        """A project's settings changed: read them again."""
        assert self.policies is not None
        self.policies.forget(project_id)


ProjectId = Annotated[int, Depends(project_of)]
"""The project a request acts in (its principal's), as a route parameter."""


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def user_forms(rt: Runtime, user_id: str) -> tuple[str, ...]:
    """``user_id`` as given, then as the SDK stores it: hashed with the server's ``user_id_salt``."""
    hashed = hash_user_id(user_id, salt=rt.settings.user_id_salt)
    return (user_id,) if hashed == user_id else (user_id, hashed)


def stored_user_id(rt: Runtime, project: int, user_id: str | None) -> str | None:
    """The form of ``user_id`` a user is stored under (as given first), else as given. Blocking."""
    if not user_id:
        return None
    known = (form for form in user_forms(rt, user_id) if rt.store.get_user(project, form) is not None)
    return next(known, user_id)
