"""The assets service: application factory."""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI

from services.assets.api import router as api_router
from services.assets.settings import AssetsSettings
from shared.app import build_app

# Routers beside the core API: OGC API - Features, Open311 and the pages for people.
ROUTER_MODULES = (
    "services.assets.ogc",
    "services.assets.open311",
    "services.assets.health.router",
    "services.assets.web.pages",
    "services.assets.web.control_room",
    "services.assets.web.footage",
    "services.assets.web.health_board",
    "services.assets.web.briefing",
)


def _router(module: str) -> APIRouter:
    """The ``router`` of a module (a missing one is an error, never skipped)."""
    router = getattr(importlib.import_module(module), "router", None)
    if not isinstance(router, APIRouter):
        raise TypeError(f"{module} has no APIRouter named router")
    return router


def create_app(settings: AssetsSettings | None = None) -> FastAPI:
    """Build the assets app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or AssetsSettings()
    app = build_app(settings, title="CSP assets", description=DESCRIPTION)
    app.include_router(api_router)
    for module in ROUTER_MODULES:
        app.include_router(_router(module))
    return app


DESCRIPTION = (
    "Medway Community Safety Partnership: CCTV asset register. Cameras (positions with a device "
    "history), faults with SLA and availability, police footage requests, SEG reviews, "
    "decisions and evidence-based recommendations, with an audit trail of every change. "
    'Camera reads return `ETag: W/"<version>"`; PATCH, transitions and decisions need '
    "`If-Match` (428 without, 412 when stale). Errors are RFC 9457 problem+json."
)
