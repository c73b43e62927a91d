"""The predictive service: application factory."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import build_app
from shared.settings import PredictiveSettings


def create_app(settings: PredictiveSettings | None = None) -> FastAPI:
    """Build the predictive app; the engine is made in the lifespan unless a test provides one."""
    settings = settings or PredictiveSettings()
    app = build_app(settings, title="CSP predictive", description=DESCRIPTION)
    return app


DESCRIPTION = "Medway Community Safety Partnership: predictive service."
