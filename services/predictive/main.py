"""The predictive service: application factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.predictive.settings import PredictiveSettings
from shared.app import build_app


def create_app(settings: PredictiveSettings | None = None) -> FastAPI:
    """Build the predictive app; the engine is made in the lifespan unless a test provides one."""
    from services.predictive.api import router as api_router
    from services.predictive.web.backtests import router as backtests_page_router
    from services.predictive.web.pages import router as pages_router

    settings = settings or PredictiveSettings()
    app = build_app(settings, title="CSP predictive", description=DESCRIPTION)
    # The page route comes first so that /targets/page is not read as a list id.
    app.include_router(pages_router)
    app.include_router(backtests_page_router)  # before /backtests/{job_id}
    app.include_router(api_router)
    return app


DESCRIPTION = (
    "Medway Community Safety Partnership: predictive service. Daily lists of target boxes per "
    "agency (GeoJSON, CSV and a printable page), visit logging, and diagnostics."
)
