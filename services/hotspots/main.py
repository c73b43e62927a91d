"""The hotspots service: application factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.hotspots import api, imports, ogc
from services.hotspots.settings import HotspotsSettings
from services.hotspots.web import pages
from shared.app import build_app


def create_app(settings: HotspotsSettings | None = None) -> FastAPI:
    """Build the hotspots app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or HotspotsSettings()
    app = build_app(settings, title="CSP hotspots", description=DESCRIPTION)
    app.include_router(api.router)
    app.include_router(imports.router)
    app.include_router(ogc.router())
    app.include_router(pages.router)
    return app


DESCRIPTION = (
    "Medway Community Safety Partnership: hotspots service. KDE and Gi* surfaces run as jobs "
    "(`POST /surfaces`), their COG and polygons, evaluation by hit rate and PAI, road-casualty "
    "cluster sites, the water-safety site register, and OGC API - Features at `/ogc`."
)
