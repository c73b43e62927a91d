"""RFC 9457 problem+json: rendering ``shared.errors`` and every other error of a FastAPI app."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db_errors import DATABASE_RETRY_AFTER_S, is_database_down, is_nul_in_text
from shared.errors import AppError, InvalidInput, ServiceUnavailable
from shared.extent import GridTooLarge, OutsideExtent
from shared.request_context import request_id_var

log = logging.getLogger("csp.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://csp.medway.example/problems/"


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
