"""Never hurt the host: an internal error is logged once per place, counted and swallowed.

Every public entry point of the SDK is wrapped with ``guarded``. ``threadline.testing`` switches
``RAISE`` on so that the SDK's own bugs fail tests instead of hiding.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("threadline")
P = ParamSpec("P")
R = TypeVar("R")


class _GuardState:
    def __init__(self) -> None:
        self.raise_errors = False
        self.errors = 0
        self.seen: set[str] = set()
        self.lock = threading.Lock()


STATE = _GuardState()
SELF = object()
"""``guarded(SELF)``: on failure, a method returns its own object (keeps call chains working)."""


def internal_error(where: str, exc: BaseException) -> None:
    """Record an internal error: logged with its traceback the first time ``where`` fails, counted always."""
    with STATE.lock:
        STATE.errors += 1
        first = where not in STATE.seen
        STATE.seen.add(where)
    if first:
        log.warning("threadline: internal error in %s (swallowed; later ones are logged at debug)", where, exc_info=exc)
    else:
        log.debug("threadline: internal error in %s", where, exc_info=exc)


def guarded(fallback: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap ``fn`` so that an exception inside it is reported and ``fallback`` returned instead."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        where = fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if STATE.raise_errors:
                    raise
                internal_error(where, exc)
                if fallback is SELF:
                    return args[0]  # type: ignore[return-value]
                try:
                    result: R = fallback() if callable(fallback) else fallback
                except Exception as error:  # the fallback must not raise either
                    internal_error(where + ".fallback", error)
                    result = None  # type: ignore[assignment]
                return result

        return wrapper

    return decorate


def warn_once(key: str, message: str, *args: object) -> None:
    """A usage warning (not an SDK bug), logged the first time only."""
    with STATE.lock:
        if key in STATE.seen:
            return
        STATE.seen.add(key)
    log.warning(message, *args)


def reset() -> None:
    with STATE.lock:
        STATE.errors = 0
        STATE.seen = set()
