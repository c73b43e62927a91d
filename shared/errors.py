"""RFC 9457 problem details: domain errors and the FastAPI handlers that render them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.extent import GridTooLarge, OutsideExtent
from shared.logs import request_id_var

log = logging.getLogger("csp.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://csp.medway.example/problems/"


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


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "body"


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.internal:
        log.info("app error %s: %s", exc.status, exc.internal)
    return problem(
        exc.status,
        exc.title,
        exc.detail,
        slug=exc.slug,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem(
        422,
        "Invalid request",
        f"The request has invalid or missing fields: {names}",
        slug="validation-error",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
    title = titles.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    return problem(
        exc.status_code,
        title,
        detail,
        slug=title.lower().replace(" ", "-"),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


def internal_error(request: Request) -> JSONResponse:
    """Log the exception being handled and return a 500 that leaks nothing but a request id."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500,
        "Internal server error",
        "Something went wrong on our side. Quote the request id if you report it.",
        slug="internal-error",
        instance=request.url.path,
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    return internal_error(request)


# Errors that mean "the database cannot be reached or is restarting": transient, so a 503 the
# client may retry, not a 500. OperationalError covers refused and dropped connections, a server
# shutting down or starting up, and deadlocks; TimeoutError is the pool running out.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)
DATABASE_RETRY_AFTER_S = 5


def is_database_down(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or restarting (not a bug)."""
    return isinstance(exc, DATABASE_DOWN) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )


def database_unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """503 problem+json with Retry-After; the driver's message goes to the log only."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        reason[0] if reason else "",
    )
    err = ServiceUnavailable("The database is unavailable just now; retry shortly.")
    return problem(
        err.status,
        err.title,
        err.detail,
        slug="database-unavailable",
        instance=request.url.path,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def is_nul_in_text(exc: BaseException) -> bool:
    """True when ``exc`` is PostgreSQL refusing a NUL (U+0000) that came in with the request.

    Text and JSONB cannot hold NUL: psycopg2 refuses such a string before sending it
    (ValueError) and the server refuses ``\\u0000`` in JSON (SQLSTATE 22P05). Stored data never
    holds one, so the NUL came from the client: a 422, not a 500.
    """
    if isinstance(exc, ValueError) and "NUL (0x00)" in str(exc):
        return True
    return isinstance(exc, sa_exc.DataError) and getattr(exc.orig, "pgcode", None) == "22P05"


def nul_in_text(request: Request) -> JSONResponse:
    """422 problem+json for a NUL character in the request's text."""
    err = InvalidInput("Text in the request may not contain NUL (U+0000) characters")
    return problem(err.status, err.title, err.detail, slug=err.slug, instance=request.url.path)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_database_down(exc):
        return database_unavailable(request, exc)
    if is_nul_in_text(exc):
        return nul_in_text(request)
    return internal_error(request)


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    return nul_in_text(request) if is_nul_in_text(exc) else internal_error(request)


async def _limit_error(request: Request, exc: Exception) -> JSONResponse:
    # Raised by pure code (grid limits, the partnership's extent) with a user-safe message.
    return await _app_error(request, InvalidInput(str(exc)))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem+json; a 500 leaks nothing but a request id."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)
    app.add_exception_handler(GridTooLarge, _limit_error)
    app.add_exception_handler(OutsideExtent, _limit_error)
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(Exception, _unhandled)
