"""One error shape for the whole service.

Every error carries its own HTTP status and machine code; one handler in
``server.app`` renders all of them as ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class ReadingRoomError(Exception):
    """Base of every error the service raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[Any] = details or []

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def headers(self) -> dict[str, str]:
        """Headers the response must carry besides the body (e.g. ``Retry-After``)."""
        return {}


class BadRequest(ReadingRoomError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(ReadingRoomError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(ReadingRoomError):
    status_code = 403
    code = "forbidden"


class NotFound(ReadingRoomError):
    status_code = 404
    code = "not_found"


class Conflict(ReadingRoomError):
    status_code = 409
    code = "conflict"


class Gone(ReadingRoomError):
    """A removed object: its tombstone's reason is the message."""

    status_code = 410
    code = "gone"


class PayloadTooLarge(ReadingRoomError):
    status_code = 413
    code = "payload_too_large"


class InvalidInput(ReadingRoomError):
    status_code = 422
    code = "invalid_input"


class Moved(ReadingRoomError):
    """A renamed object: the API and pages answer 308 to its new key."""

    status_code = 308
    code = "moved"

    def __init__(self, old_key: str, new_key: str) -> None:
        super().__init__(f"'{old_key}' is now '{new_key}'", [{"key": new_key}])
        self.old_key = old_key
        self.new_key = new_key


class ContentError(ReadingRoomError):
    """Content that does not validate; details hold every ``file:line: message``."""

    status_code = 422
    code = "invalid_content"


class Busy(ReadingRoomError):
    """The server is at the concurrency it admits: try again after ``retry_after_s``."""

    status_code = 503
    code = "busy"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message, [{"retry_after_s": retry_after_s}])
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class JobFailed(ReadingRoomError):
    """A worker took the job but it ended without recording a run (its log says why)."""

    status_code = 502
    code = "job_failed"


class SandboxUnavailable(ReadingRoomError):
    status_code = 503
    code = "sandbox_unavailable"


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[Any]


class ErrorBody(BaseModel):
    """The one error shape, as the OpenAPI document describes it."""

    error: ErrorDetail


ERROR_STATUSES = (400, 401, 403, 404, 409, 410, 413, 422)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses (default: every status any API route may give)."""
    return {status: {"model": ErrorBody} for status in statuses or ERROR_STATUSES}
