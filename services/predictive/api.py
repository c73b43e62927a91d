"""HTTP API of the predictive service: the routers of daily lists, visits, diagnostics, agencies,
backtests and near-repeat evidence.

``main.py`` includes ``router``; each domain keeps its own handlers in ``<domain>/api.py``.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.predictive.agencies.api import router as agencies_router
from services.predictive.diagnostics.api import router as diagnostics_router
from services.predictive.diagnostics.backtests.api import router as backtests_router
from services.predictive.lists.api import router as lists_router
from services.predictive.nearrepeat.api import router as nearrepeat_router
from services.predictive.visits.api import router as visits_router

router = APIRouter()
for _domain in (
    lists_router,
    visits_router,
    diagnostics_router,
    agencies_router,
    backtests_router,
    nearrepeat_router,
):
    router.include_router(_domain)
