"""Every error the server answers with, in one hierarchy.

    ApiError                      {"error": {"code", "message", "detail"}} with an HTTP status
    ├── BadRequest            400  undecodable body, bad parameter
    ├── NotFound              404  unknown session, trace or user
    ├── RequestTimeout        408  the body arrived too slowly
    ├── PayloadTooLarge       413  body over the size limit (after decompression)
    ├── UnsupportedMediaType  415  content type or encoding we do not speak
    ├── Overloaded            503  write queue or ingest memory full; carries Retry-After
    │   └── StorageUnavailable 503  the store refused a write (disk full, I/O error); carries Retry-After
    └── ReadOnly              503  this process only reads the database

Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, detail: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}

    def headers(self) -> dict[str, str]:
        """Headers the answer carries (Retry-After, WWW-Authenticate...)."""
        return {}


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class RequestTimeout(ApiError):
    status_code = 408
    code = "request_timeout"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class Overloaded(ApiError):
    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message, detail={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class StorageUnavailable(Overloaded):
    code = "storage_unavailable"


class ReadOnly(ApiError):
    status_code = 503
    code = "read_only"
