"""Build a FastAPI app the same way for every service: engine, errors, logging, health."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import make_engine, make_sessionmaker
from shared.errors import PayloadTooLarge
from shared.health import router as health_router
from shared.logs import RequestIdMiddleware, configure_logging
from shared.settings import ServiceSettings
from shared.web.boundaries import router as boundaries_router
from shared.web.oidc import router as oidc_router
from shared.web.pages import install_page_handlers
from shared.web.problems import install_error_handlers, problem
from shared.web.signin import router as signin_router

STATIC_DIR = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Pages ship their own Leaflet (shared/static/vendor) and inline scripts; map tiles may come from
# the configured tile host only (settings.tile_url), and from nowhere when tiles are off.
_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src {img_src}; "
    "connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def tile_source(tile_url: str) -> str | None:
    """The CSP source admitting an XYZ tile template's host ({s}.host -> *.host); None if none."""
    parts = urlsplit(tile_url.strip())
    host = parts.netloc.rsplit("@", 1)[-1]
    if parts.scheme not in ("http", "https") or not host:
        return None  # no tiles, or a path on the suite itself ('self' covers it)
    labels = host.split(".")
    templated = [i for i, label in enumerate(labels) if "{" in label or "}" in label]
    if templated:  # a wildcard may only stand for the leftmost labels
        rest = labels[templated[-1] + 1 :]
        if len(rest) < 2 or any(c in ".".join(rest) for c in "{}"):
            return None
        host = "*." + ".".join(rest)
    if not re.fullmatch(r"[A-Za-z0-9.*-]+(:\d{1,5})?", host):
        return None
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str) -> str:
    """The pages' Content-Security-Policy, with the tile host of ``tile_url`` in img-src."""
    source = tile_source(tile_url)
    img_src = "'self' data: blob:" + (f" {source}" if source else "")
    return _POLICY.format(img_src=img_src)


CONTENT_SECURITY_POLICY = content_security_policy(DEFAULT_TILE_URL)
CSP_EXEMPT: tuple[str, ...] = ()  # every page, /docs included, works under the policy
SWAGGER_UI = "/static/vendor/swagger-ui"
REDOC = "/static/vendor/redoc"


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    """Add security headers to every response and refuse bodies over the upload limit."""

    def __init__(self, app: object, max_body: int, policy: str = CONTENT_SECURITY_POLICY) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_body = max_body
        self.policy = policy

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Check Content-Length, then add headers."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            err = PayloadTooLarge(f"The request body exceeds {self.max_body} bytes")
            response: Response = problem(
                err.status, err.title, err.detail, slug=err.slug, instance=request.url.path
            )
        else:
            response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        is_html = response.headers.get("content-type", "").startswith("text/html")
        if is_html and not request.url.path.startswith(CSP_EXEMPT):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class StreamedBodyLimit:
    """Count the bytes of bodies sent without Content-Length (chunked) and stop at the limit.

    Past the limit the app's receive fails (FastAPI turns that into a 400), so whatever the app
    answers is replaced by the 413 problem.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a receive that stops past the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0
        exceeded = False

        async def limited() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    exceeded = True
                    raise PayloadTooLarge(f"The request body exceeds {self.max_body} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                err = PayloadTooLarge(f"The request body exceeds {self.max_body} bytes")
                path = scope.get("path", "")
                response = problem(err.status, err.title, err.detail, slug=err.slug, instance=path)
                await response(scope, receive, send)

        await self.app(scope, limited, guarded_send)


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str = "0.1.0",
) -> FastAPI:
    """A FastAPI app with the shared lifespan, middleware, error handlers and health routes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "engine", None) is None:
            app.state.engine = make_engine(
                settings.database_url, connect_timeout_s=settings.db_connect_timeout_s
            )
            app.state.sessionmaker = make_sessionmaker(app.state.engine)
            owns_engine = True
        else:
            owns_engine = False
        try:
            yield
        finally:
            if owns_engine:
                app.state.engine.dispose()
                app.state.engine = None

    if settings.log_json is not None:
        configure_logging(settings.log_level, json_lines=settings.log_json)
    # /docs is served with the suite's own copy of Swagger UI: FastAPI's default loads it from a
    # CDN, which left a blank page on a control-room network closed to the internet.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = None
    app.add_middleware(StreamedBodyLimit, max_body=settings.max_upload_bytes)
    app.add_middleware(
        SecurityHeadersMiddleware,
        max_body=settings.max_upload_bytes,
        policy=content_security_policy(settings.tile_url),
    )
    app.add_middleware(RequestIdMiddleware, service=settings.service_name)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.rstrip("/") for o in settings.cors_origins if o.strip() != "*"],
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["Authorization", "Accept", "Content-Type"],
            expose_headers=["Content-Crs", "Link", "X-Request-ID", "ETag", "CSP-Tile-Capped"],
            allow_credentials=False,
            max_age=600,
        )
    install_error_handlers(app)
    app.include_router(health_router)
    install_page_handlers(app)
    app.include_router(signin_router)
    app.include_router(oidc_router)
    app.include_router(boundaries_router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_docs(app, title)
    return app


def _add_docs(app: FastAPI, title: str) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served from ``/static/vendor``."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        # No Google fonts: the page uses the system fonts, like every page of the suite.
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API reference",
            redoc_js_url=f"{REDOC}/redoc.standalone.js",
            redoc_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            with_google_fonts=False,
        )
