"""HTTP routes of the hotspots service, gathered in one ``router``: surface runs
(``runs.api``), comparisons of two periods (``comparisons.api``) and the road and water safety
sites (``sites.api``)."""

from __future__ import annotations

from fastapi import APIRouter

from services.hotspots.comparisons import api as comparisons_api
from services.hotspots.runs import api as runs_api
from services.hotspots.sites import api as sites_api

router = APIRouter()
router.include_router(runs_api.router)
router.include_router(comparisons_api.router)
router.include_router(sites_api.router)
