"""The hotspots service: application factory."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import build_app
from shared.settings import HotspotsSettings


def create_app(settings: HotspotsSettings | None = None) -> FastAPI:
    """Build the hotspots app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or HotspotsSettings()
    app = build_app(settings, title="CSP hotspots", description=DESCRIPTION)
    return app


DESCRIPTION = "Medway Community Safety Partnership: hotspots service."
