"""HTTP API of diagnostics: visit coverage, boxes per ward and stability of stored lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.predictive.dependencies import AgencyQ, Analyst, DateRangeQ
from services.predictive.diagnostics import service
from shared.db import SessionDep

router = APIRouter(tags=["predictive"])


@router.get("/diagnostics", summary="Visit coverage, boxes per ward, day-to-day stability")
def diagnostics(
    session: SessionDep, _: Analyst, agency: AgencyQ, dates: DateRangeQ
) -> dict[str, Any]:
    """Diagnostics of the stored lists from..to (default: the last 28 days)."""
    return service.diagnostics(
        session, agency_code=agency, date_from=dates.start, date_to=dates.end
    )
