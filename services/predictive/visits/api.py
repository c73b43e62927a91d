"""HTTP API of visits: log a visit (by list and box, or by agency and date), list them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.predictive.dependencies import AgencyQ, AgencyReader, Crew, DateRangeQ, check_agency
from services.predictive.lists.service import list_agency_code
from services.predictive.schemas import VisitCreate, VisitForBox, VisitPage, VisitRead
from services.predictive.visits.service import list_visits, log_visit, log_visit_for_list
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses

router = APIRouter(tags=["predictive"])


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
    """Record that a crew visited a box (crew and admin); retry with the same Idempotency-Key.

    A crew member logs visits to their own agency's lists only (403 for another agency's).
    """
    check_agency(who, list_agency_code(session, list_id=list_id))
    row, created = log_visit_for_list(
        session,
        list_id=list_id,
        cell_id=cell_id,
        visited_at=body.visited_at,
        crew=body.crew,
        notes=body.notes,
        actor=who.actor,
        idempotency_key=idempotency_key,
        caller=who.caller,
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
    """Record a visit by agency, list date and box; retry with the same Idempotency-Key.

    A crew member logs visits to their own agency's lists only (403 for another agency's).
    """
    check_agency(who, body.agency)
    row, created = log_visit(
        session,
        agency_code=body.agency,
        day=body.date,
        cell_id=body.cell_id,
        visited_at=body.visited_at,
        crew=body.crew,
        notes=body.notes,
        actor=who.actor,
        idempotency_key=idempotency_key,
        caller=who.caller,
    )
    mark_replay(response, created)
    return row


@router.get(
    "/visits",
    response_model=VisitPage,
    response_model_by_alias=True,
    summary="Visits logged against an agency's lists",
)
def visits(session: SessionDep, _: AgencyReader, agency: AgencyQ, dates: DateRangeQ) -> Any:
    """Visits for lists dated from..to (default: the last 28 days); a crew member's own
    agency's only."""
    ag, rows = list_visits(session, agency_code=agency, date_from=dates.start, date_to=dates.end)
    return VisitPage(
        agency=ag.code,
        date_from=dates.start,
        date_to=dates.end,
        count=len(rows),
        visits=[VisitRead.model_validate(v) for v in rows],
    )
