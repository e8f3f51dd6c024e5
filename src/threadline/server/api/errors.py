"""One JSON error shape for every 4xx/5xx: ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from threadline.server.errors import ApiError

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
        retry = getattr(exc, "retry_after_s", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return error_response(exc.status_code, exc.code, exc.message, exc.detail, headers)

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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Threadline hit an unexpected error; it has been logged.")
