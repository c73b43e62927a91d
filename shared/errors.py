"""Domain errors: each carries an HTTP status, a title, a slug and a user-safe detail.

Framework-free on purpose (the model is pygeoapi's ``error.py``): services and pure code raise
these; ``shared.web.problems`` renders them as RFC 9457 problem+json.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A domain error with an HTTP status and a user-safe detail; ``internal`` goes to the log."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        internal: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.internal = internal
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(AppError):
    """Input that parsed but makes no sense (422)."""

    status, title, slug = 422, "Invalid input", "invalid-input"


class Unauthorized(AppError):
    """No valid credentials (401)."""

    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(AppError):
    """Valid credentials, wrong role (403)."""

    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    """The resource does not exist (404)."""

    status, title, slug = 404, "Not found", "not-found"


class Conflict(AppError):
    """The request conflicts with the resource's state (409)."""

    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(AppError):
    """An If-Match precondition did not hold (412)."""

    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(AppError):
    """A conditional request was required (428)."""

    status, title, slug = 428, "Precondition required", "precondition-required"


class PayloadTooLarge(AppError):
    """An upload exceeds the limit (413)."""

    status, title, slug = 413, "Payload too large", "payload-too-large"


class ServiceUnavailable(AppError):
    """A dependency (database, broker) is down (503)."""

    status, title, slug = 503, "Service unavailable", "service-unavailable"
