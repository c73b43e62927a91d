"""The assets service: application factory."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import build_app
from shared.settings import AssetsSettings


def create_app(settings: AssetsSettings | None = None) -> FastAPI:
    """Build the assets app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or AssetsSettings()
    app = build_app(settings, title="CSP assets", description=DESCRIPTION)
    return app


DESCRIPTION = "Medway Community Safety Partnership: assets service."
