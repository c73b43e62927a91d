"""HTTP API of the predictive service: daily lists, visits, agencies and diagnostics."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.predictive import export, service
from services.predictive.schemas import (
    AgencyRead,
    AgencyUpdate,
    ListDate,
    ListRequest,
    VisitCreate,
    VisitForBox,
    VisitPage,
    VisitRead,
)
from shared.auth import Principal, require
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses

router = APIRouter(tags=["predictive"])

Reader = Annotated[Principal, Depends(require("crew", "analyst"))]
Crew = Annotated[Principal, Depends(require("crew"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]
AgencyQ = Annotated[str, Query(min_length=1, max_length=20, description="kfrs | police")]
DateQ = Annotated[ListDate | None, Query(description="List date (default: today in Medway)")]


def _limits(request: Request) -> service.Limits:
    return service.Limits.of(request.app.state.settings)


LimitsDep = Annotated[service.Limits, Depends(_limits)]


def _view(session: SessionDep, agency: str, day: date | None) -> service.ListView:
    """The stored list; reading never makes one (404 problem naming how lists are made)."""
    return service.get_list(session, agency_code=agency, day=day or service.today_london())


def _geojson(view: service.ListView, status: int = 200) -> Response:
    import json

    return Response(
        json.dumps(export.to_geojson(view)), status_code=status, media_type="application/geo+json"
    )


@router.get("/targets", summary="Daily list as GeoJSON (WGS84)")
def targets(session: SessionDep, _: Reader, agency: AgencyQ, date: DateQ = None) -> Response:
    """The agency's stored boxes for the date (404 when no list was made for it)."""
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
    day = body.date or service.today_london()
    view, created = service.request_list(session, agency_code=body.agency, day=day, limits=limits)
    out = _geojson(view, 201 if created else 200)
    query = urlencode({"agency": view.agency.code, "date": day.isoformat()})
    out.headers["Location"] = f"/targets?{query}"
    return out


@router.get("/targets.csv", summary="Daily list as CSV")
def targets_csv(session: SessionDep, _: Reader, agency: AgencyQ, date: DateQ = None) -> Response:
    """The same stored list as CSV (one row per box, formulas neutralised)."""
    view = _view(session, agency, date)
    name = f"targets-{view.agency.code}-{view.target_list.list_date.isoformat()}.csv"
    return Response(
        export.to_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/targets/{list_id}/boxes/{cell_id}/visits",
    status_code=201,
    response_model=VisitRead,
    responses=replay_responses(VisitRead),
    summary="Log a visit to a box of a list",
)
def visit_box(
    session: SessionDep,
    who: Crew,
    list_id: int,
    cell_id: str,
    body: VisitForBox,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Record that a crew visited a box (crew and admin); retry with the same Idempotency-Key."""
    row, created = service.log_visit_for_list(
        session,
        list_id=list_id,
        cell_id=cell_id,
        visited_at=body.visited_at,
        crew=body.crew,
        notes=body.notes,
        actor=who.actor,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    return row


@router.post(
    "/visits",
    status_code=201,
    response_model=VisitRead,
    responses=replay_responses(VisitRead),
    summary="Log a visit",
)
def visit(
    session: SessionDep,
    who: Crew,
    body: VisitCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Record a visit by agency, list date and box; retry with the same Idempotency-Key."""
    row, created = service.log_visit(
        session,
        agency_code=body.agency,
        day=body.date,
        cell_id=body.cell_id,
        visited_at=body.visited_at,
        crew=body.crew,
        notes=body.notes,
        actor=who.actor,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    return row


def _range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    end = date_to or service.today_london()
    return date_from or end - timedelta(days=27), end


@router.get(
    "/visits",
    response_model=VisitPage,
    response_model_by_alias=True,
    summary="Visits logged against an agency's lists",
)
def visits(
    session: SessionDep,
    _: Reader,
    agency: AgencyQ,
    date_from: Annotated[ListDate | None, Query(alias="from")] = None,
    date_to: Annotated[ListDate | None, Query(alias="to")] = None,
) -> Any:
    """Visits for lists dated from..to (default: the last 28 days)."""
    start, end = _range(date_from, date_to)
    ag, rows = service.list_visits(session, agency_code=agency, date_from=start, date_to=end)
    return VisitPage(
        agency=ag.code,
        date_from=start,
        date_to=end,
        count=len(rows),
        visits=[VisitRead.model_validate(v) for v in rows],
    )


@router.get("/diagnostics", summary="Visit coverage, boxes per ward, day-to-day stability")
def diagnostics(
    session: SessionDep,
    _: Analyst,
    agency: AgencyQ,
    date_from: Annotated[ListDate | None, Query(alias="from")] = None,
    date_to: Annotated[ListDate | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Diagnostics of the stored lists from..to (default: the last 28 days)."""
    start, end = _range(date_from, date_to)
    return service.diagnostics(session, agency_code=agency, date_from=start, date_to=end)


def _agency_read(a: Any) -> AgencyRead:
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
