"""HTTP API of agencies: their list settings (read by crews and analysts, changed by admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.predictive.agencies import service
from services.predictive.dependencies import Admin, LimitsDep, Reader
from services.predictive.models import Agency
from services.predictive.schemas import AgencyRead, AgencyUpdate
from shared.db import SessionDep

router = APIRouter(tags=["predictive"])


def _agency_read(a: Agency) -> AgencyRead:
    out = AgencyRead.model_validate(a)
    out.has_own_area = a.area is not None
    return out


@router.get("/agencies", response_model=list[AgencyRead], summary="Agencies and settings")
def agencies(session: SessionDep, _: Reader) -> Any:
    """Every agency with its list settings (defaults shown until first changed; no write)."""
    return [_agency_read(a) for a in service.list_agencies(session)]


@router.patch("/agencies/{code}", response_model=AgencyRead, summary="Change settings (admin)")
def update_agency(
    session: SessionDep, _: Admin, limits: LimitsDep, code: str, body: AgencyUpdate
) -> Any:
    """Change an agency's settings; future lists use them, stored lists stay as they were.

    ``area``: a valid WGS84 GeoJSON Polygon or MultiPolygon inside the partnership's extent,
    whose grid at the agency's cell size is within the cell limit (else 422 naming why).
    """
    changes = body.model_dump(exclude_unset=True, exclude={"area", "clear_area"})
    if body.clear_area:
        changes["area"] = None
    elif body.area is not None:
        changes["area"] = body.area
    row = service.update_agency(session, code=code, changes=changes, limits=limits)
    return _agency_read(row)
