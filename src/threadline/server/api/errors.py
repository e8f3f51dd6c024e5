"""One JSON error shape for every 4xx/5xx: ``{"error": {"code", "message", "detail"}}``.

Known errors (``ApiError``, HTTP errors, invalid parameters) are answered by exception handlers. Anything
else is caught by ``UnexpectedErrors`` around the routes: logged once with its traceback and a request id
(repeats of the same failure are rate-limited in the log), answered with a 500 that carries the id, and
the connection stays usable.
"""

from __future__ import annotations

import logging
import secrets
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.server.auth.access import SignInRequired
from threadline.server.errors import ApiError
from threadline.server.ingest import otlp

log = logging.getLogger("threadline.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


def error_response(
    status: int, code: str, message: str, detail: object = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"code": code, "message": message, "detail": detail}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if not otlp.answers_in_json(request):  # an OTLP exporter sending protobuf reads a google.rpc.Status
            return otlp.error_response(exc, is_json=False)
        return error_response(exc.status_code, exc.code, exc.message, exc.detail, exc.headers() or None)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            message = f"No such endpoint: {request.method} {request.url.path}. See /openapi.json for the API."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}. See /openapi.json for the API."
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")} for e in exc.errors()
        ]
        where = problems[0]["location"] if problems else "request"
        return error_response(
            400, "bad_request", f"Invalid {where}: {problems[0]['problem'] if problems else ''}.", problems
        )

    app.add_middleware(UnexpectedErrors)


@dataclass(slots=True)
class LogLimiter:
    """Logs the first of identical failures with its traceback, then at most one per ``window_s`` seconds,
    saying how many were left out in between."""

    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[tuple[str, ...], tuple[float, int]] = field(default_factory=dict)

    def log(self, exc: BaseException, where: str, request_id: str) -> None:
        key = (where, type(exc).__name__, *_origin(exc))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.window_s:
            self._last[key] = (last[0], last[1] + 1)
            return
        suppressed = last[1] if last is not None else 0
        self._last[key] = (now, 0)
        if len(self._last) > 1000:
            self._last = {key: self._last[key]}
        note = f" ({suppressed} more like it in the last {self.window_s:.0f}s were not logged)" if suppressed else ""
        log.error("unexpected error on %s [request %s]%s", where, request_id, note, exc_info=exc)


def _origin(exc: BaseException) -> tuple[str, str]:
    """Where an exception was raised (file and line of its innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ("", "")
    return (frames[-1].filename, str(frames[-1].lineno))


class UnexpectedErrors:
    """ASGI middleware: an exception no handler answered becomes a logged, identified 500."""

    def __init__(self, app: ASGIApp, limiter: LogLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter or LogLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            request_id = secrets.token_hex(8)
            self.limiter.log(exc, f"{scope.get('method', '')} {scope.get('path', '')}", request_id)
            if started:  # too late for a status: end the body so the connection stays in a known state
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            response = error_response(
                500,
                "internal_error",
                f"Threadline hit an unexpected error; it is logged under request id {request_id}. "
                "Retrying may help; if it persists, report it with that id.",
                {"request_id": request_id},
                {"X-Request-Id": request_id},
            )
            await response(scope, receive, send)
