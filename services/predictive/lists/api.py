"""HTTP API of daily lists: read a stored list as GeoJSON or CSV, make one on request."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from services.predictive.dates import today_london
from services.predictive.dependencies import AgencyQ, AgencyReader, Analyst, DateQ, LimitsDep
from services.predictive.lists import export
from services.predictive.lists.service import ListView, get_list, request_list
from services.predictive.schemas import ListRequest
from shared.db import SessionDep

router = APIRouter(tags=["predictive"])


def _view(session: SessionDep, agency: str, day: date | None) -> ListView:
    """The stored list; reading never makes one (404 problem naming how lists are made)."""
    return get_list(session, agency_code=agency, day=day or today_london())


def _geojson(view: ListView, status: int = 200) -> Response:
    return Response(
        json.dumps(export.to_geojson(view)), status_code=status, media_type="application/geo+json"
    )


def csv_response(view: ListView) -> Response:
    """The list as a CSV download named after its agency and date."""
    name = f"targets-{view.agency.code}-{view.target_list.list_date.isoformat()}.csv"
    return Response(
        export.to_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/targets", summary="Daily list as GeoJSON (WGS84)")
def targets(session: SessionDep, _: AgencyReader, agency: AgencyQ, date: DateQ = None) -> Response:
    """The agency's stored boxes for the date (404 when no list was made for it).

    A crew member sees their own agency's lists only (403 for another agency's).
    """
    return _geojson(_view(session, agency, date))


@router.post(
    "/targets",
    summary="Make the daily list for a date (analyst, admin)",
    status_code=201,
    responses={200: {"description": "The list was already there"}},
)
def make_targets(session: SessionDep, _: Analyst, limits: LimitsDep, body: ListRequest) -> Response:
    """Fit and store the agency's list for the date (a year back to a week ahead of today).

    Idempotent: an existing list is returned as it is (200); a new one is 201. The nightly job
    makes today's lists, so crews need no one to ask.
    """
    day = body.date or today_london()
    view, created = request_list(session, agency_code=body.agency, day=day, limits=limits)
    out = _geojson(view, 201 if created else 200)
    query = urlencode({"agency": view.agency.code, "date": day.isoformat()})
    out.headers["Location"] = f"/targets?{query}"
    return out


@router.get("/targets.csv", summary="Daily list as CSV")
def targets_csv(
    session: SessionDep, _: AgencyReader, agency: AgencyQ, date: DateQ = None
) -> Response:
    """The same stored list as CSV (one row per box with its OS grid reference; formulas
    neutralised). A crew member sees their own agency's lists only."""
    return csv_response(_view(session, agency, date))
