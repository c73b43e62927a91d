"""JSON-lines logging with a request id carried in a context variable."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from shared.request_context import request_id_var

_SECRET_MARKERS = ("authorization", "bearer ", "token=", "password")
# Anything shaped like one of our tokens, wherever it appears (a path, a query, a traceback),
# and the password part of a connection URL.
_TOKEN_RE = re.compile(r"csp_[A-Za-z0-9_-]{16,}")
_URL_PASSWORD_RE = re.compile(r"(://[^:/@\s]*:)[^@\s/]+@")


def scrub(text: str) -> str:
    """Mask token-shaped strings and URL passwords in ``text``."""
    return _URL_PASSWORD_RE.sub(r"\1***@", _TOKEN_RE.sub("csp_[redacted]", text))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        msg = record.getMessage()
        if any(m in msg.lower() for m in _SECRET_MARKERS):
            msg = _redact(msg)
        msg = scrub(msg)
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": msg,
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key in ("method", "path", "status", "duration_ms", "service", "task"):
            if hasattr(record, key):
                value = getattr(record, key)
                out[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def _redact(msg: str) -> str:
    words = msg.split()
    out = []
    redact_next = False
    for w in words:
        if redact_next:
            out.append("[redacted]")
            redact_next = False
            continue
        if w.lower() in ("bearer", "authorization:"):
            redact_next = True
        out.append(w)
    return " ".join(out)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for a terminal, scrubbed like the JSON ones."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with tokens and passwords masked."""
        return scrub(super().format(record))


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send the root logger to stderr as JSON lines (or plain text for a terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RequestIdMiddleware(BaseHTTPMiddleware):
    """Take or make an ``X-Request-ID``, log one line per request, echo the id back."""

    def __init__(self, app: object, service: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.service = service
        self.log = logging.getLogger(f"csp.{service}.http")

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Handle one request with its id bound."""
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        try:
            try:
                response = await call_next(request)
            except Exception:
                from shared.web.problems import internal_error

                response = internal_error(request)
            response.headers["X-Request-ID"] = rid
            self._log(request, response, start)
        finally:
            request_id_var.reset(token)
        return response

    def _log(self, request: Request, response: Response, start: float) -> None:
        self.log.info(
            "%s %s -> %s",
            request.method,
            request.url.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - start) * 1000, 1),
                "service": self.service,
            },
        )
