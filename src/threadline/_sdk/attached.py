"""The context-manager half shared by scopes and span handles: attach an OTel context, detach it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from threadline._sdk import guard


class AttachedContext:
    """Entering attaches a context; leaving detaches it. Never raises into the application.

    Subclasses implement ``__enter__`` / ``__exit__`` with ``_attach`` and ``_detach``; the async forms
    follow from them.
    """

    def __init__(self) -> None:
        self._tokens: list[object] = []

    def _attach(self, make: Callable[[], Context]) -> None:
        try:
            self._tokens.append(otel_context.attach(make()))
        except Exception as exc:
            guard.internal_error(f"{type(self).__name__}.__enter__", exc)

    def _detach(self) -> None:
        if self._tokens:
            try:
                otel_context.detach(self._tokens.pop())  # type: ignore[arg-type]
            except Exception as error:
                guard.internal_error(f"{type(self).__name__}.__exit__", error)

    def __enter__(self) -> Self:
        raise NotImplementedError

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
