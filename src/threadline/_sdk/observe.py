"""``@threadline.observe``: a span around a sync or async function, in the current turn."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

from threadline import semconv as sc
from threadline._sdk import guard, runtime
from threadline._sdk.calls import (
    AgentRun,
    ChildHandle,
    LLMCall,
    Step,
    ToolCall,
    agent_attributes,
    current_turn,
    llm_attributes,
    open_child,
    tool_attributes,
)
from threadline._sdk.content import to_text
from threadline._sdk.scope import Attributes

F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["span", "agent", "llm", "tool"]
_KINDS = ("span", "agent", "llm", "tool")


@overload
def observe(func: F, /) -> F: ...


@overload
def observe(*, name: str | None = None, kind: Kind = "span") -> Callable[[F], F]: ...


def observe(func: F | None = None, /, *, name: str | None = None, kind: Kind = "span") -> F | Callable[[F], F]:
    """Record each call of the decorated function (sync or async) as a span of ``kind`` in the current turn.

    Arguments and the return value are recorded only when content capture is on; an exception marks the
    span as failed and propagates unchanged. Usable bare (``@observe``) or with options.
    """

    def decorate(fn: F) -> F:
        if kind not in _KINDS:
            guard.warn_once(f"observe-kind:{kind}", "threadline: observe(kind=%r) is not one of %s", kind, _KINDS)
        return _wrap(fn, name or fn.__qualname__.rsplit("<locals>.", 1)[-1], kind)

    return decorate(func) if func is not None else decorate


def _wrap(fn: F, span_name: str, kind: str) -> F:
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            handle = _start(span_name, kind, signature, args, kwargs)
            if handle is None:
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                handle.__exit__(type(exc), exc, exc.__traceback__)
                raise
            _finish(handle, kind, result)
            return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        handle = _start(span_name, kind, signature, args, kwargs)
        if handle is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            handle.__exit__(type(exc), exc, exc.__traceback__)
            raise
        _finish(handle, kind, result)
        return result

    return wrapper  # type: ignore[return-value]


@guard.guarded()
def _start(
    span_name: str, kind: str, signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ChildHandle | None:
    rt = runtime.current()
    arguments = _arguments(signature, args, kwargs) if rt.capture else None
    cls: type[ChildHandle]
    attributes: Attributes
    if kind == "llm":
        cls, attributes = LLMCall, llm_attributes(None, None, "chat", False, None)
    elif kind == "tool":
        cls, attributes = ToolCall, tool_attributes(span_name, arguments, None, rt.capture)
    elif kind == "agent":
        cls, attributes = AgentRun, agent_attributes(span_name)
    else:
        cls, attributes = Step, {sc.THREADLINE_SPAN_KIND: sc.SPAN_KIND_SPAN}
    if arguments is not None and kind != "tool":
        attributes[sc.INPUT_VALUE] = arguments
    handle = open_child(cls, span_name, attributes, current_turn(), rt=rt)
    handle.__enter__()
    return handle


def _finish(handle: ChildHandle, kind: str, result: Any) -> None:
    try:
        if handle._runtime.capture and result is not None:
            key = sc.GEN_AI_TOOL_CALL_RESULT if kind == "tool" else sc.OUTPUT_VALUE
            handle.set_attribute(key, to_text(result))
    except Exception as exc:
        guard.internal_error("observe", exc)
    handle.__exit__(None, None, None)


def _arguments(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if signature is None:
        return to_text({"args": list(args), "kwargs": kwargs})
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return to_text({"args": list(args), "kwargs": kwargs})
    values = {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
    return to_text(values)
