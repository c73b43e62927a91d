"""The assets service: application factory."""

from __future__ import annotations

import importlib
import logging

from fastapi import APIRouter, FastAPI

from services.assets.api import router as api_router
from services.assets.settings import AssetsSettings
from shared.app import build_app

log = logging.getLogger("csp.assets")

# Routers written alongside the core API (OGC API Features, Open311, pages); each may still be
# a stub, so a missing module or router is skipped rather than breaking the service.
OPTIONAL_ROUTERS = (
    "services.assets.ogc",
    "services.assets.open311",
    "services.assets.web.pages",
)


def _optional_router(module: str) -> APIRouter | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            return None
        raise
    router = getattr(mod, "router", None)
    return router if isinstance(router, APIRouter) else None


def create_app(settings: AssetsSettings | None = None) -> FastAPI:
    """Build the assets app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or AssetsSettings()
    app = build_app(settings, title="CSP assets", description=DESCRIPTION)
    app.include_router(api_router)
    for module in OPTIONAL_ROUTERS:
        router = _optional_router(module)
        if router is not None:
            app.include_router(router)
        else:
            log.info("optional router %s not present", module)
    return app


DESCRIPTION = (
    "Medway Community Safety Partnership: CCTV asset register. Cameras (positions with a device "
    "history), faults with SLA and availability, police footage requests, SEG reviews, "
    "decisions and evidence-based recommendations, with an audit trail of every change. "
    'Camera reads return `ETag: W/"<version>"`; PATCH, transitions and decisions need '
    "`If-Match` (428 without, 412 when stale). Errors are RFC 9457 problem+json."
)
