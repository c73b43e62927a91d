"""The crews' daily list page: a map and the ranked boxes, readable on a phone and printable.

People sign in once for the whole suite (``shared.web``): the page asks for a person holding a
list-reading role (``page_user``), and a crew member sees their own agency's lists only. The
visit form posts with the session's CSRF token, checked by the shared caller dependency.
"""

from __future__ import annotations

import secrets
from datetime import date as date_cls
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.agencies.service import find_agency
from services.predictive.dates import LONDON, today_london
from services.predictive.dependencies import LOG_VISITS, READ_LISTS, Reader, check_agency
from services.predictive.lists import export
from services.predictive.lists.api import csv_response
from services.predictive.lists.period import incident_period, list_period
from services.predictive.lists.service import (
    ListView,
    NoList,
    find_list,
    get_list,
    list_agency_code,
)
from services.predictive.schemas import YEARS, in_years
from services.predictive.visits.service import log_visit_for_list, visit_window_open
from services.predictive.web.maps import (
    build_map,
    geo_href,
    rank_colour,
    rank_data,
    rank_ink,
    second_head,
)
from services.predictive.web.notices import PAGE, freshness, how_to_make, page_url, period_text
from services.predictive.web.picker import DateChoice, date_choices
from services.predictive.web.wording import count, headline, long_date, short_params
from shared.auth import MaybePrincipal, Principal
from shared.db import SessionDep
from shared.errors import InvalidInput, NotFound
from shared.maps import json_for_script
from shared.web.pages import PageForbidden, page_user, register_templates, render, sign_in_page
from shared.web.sessions import check_same_origin, safe_next

__all__ = ["build_map", "router"]

router = APIRouter(tags=["pages"])
register_templates("predictive", Path(__file__).parent / "templates")
WHAT = "The crews' target boxes"
RANKS_JS = Path(__file__).parent / "static" / "ranks.js"


@router.get(PAGE, response_class=HTMLResponse, summary="Printable daily list")
def targets_page(
    request: Request,
    session: SessionDep,
    agency: Annotated[str, Query(min_length=1, max_length=20)],
    date: Annotated[Any, Query(description="YYYY-MM-DD (default today)")] = None,
) -> HTMLResponse:
    """The agency's list for the date as a page: map, ranked boxes, print styles."""
    who = page_user(request, session, *READ_LISTS, what=WHAT)
    if not who.may_see_agency(agency):
        return _wrong_agency_page(request, session, who, agency, date)
    try:
        day = _day(date)
    except InvalidInput as bad:
        if "text/html" not in request.headers.get("accept", ""):
            raise  # a script: the problem+json answer
        return _bad_date_page(request, session, who, agency, str(date), bad)
    try:
        view = get_list(session, agency_code=agency, day=day)
    except NoList as missing:
        return _no_list_page(request, session, who, missing)
    except NotFound:
        return _unknown_agency_page(request, who, agency, day)
    return _list_page(request, session, who, view)


def _picker(
    session: Session, agency_code: str, day: date_cls, *, has_list: bool
) -> list[DateChoice]:
    agency = find_agency(session, code=agency_code) if agency_code in DEFAULTS else None
    return date_choices(
        session, agency=agency, agency_code=agency_code, current=day, current_has_list=has_list
    )


def _list_page(request: Request, session: Session, who: Principal, view: ListView) -> HTMLResponse:
    lst = view.target_list
    geojson = export.to_geojson(view)
    settings = request.app.state.settings
    tiles, credit = str(settings.tile_url), settings.tile_attribution or None
    screen = build_map(geojson, tiles=tiles, tile_attribution=credit)
    printed = build_map(geojson, for_print=True, tiles=tiles, tile_attribution=credit)
    rows = export.box_rows(view)
    for r in rows:
        where = r["ward"] or "outside the wards"
        r["geo"] = geo_href(r["centre_lat"], r["centre_lon"], f"Box {r['rank']}, {where}")
    meta = export.list_meta(view)
    logged = request.query_params.get("logged")
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "logged"])
    period = list_period(session, target_list=lst)
    context = {
        "meta": meta,
        "rows": rows,
        "map": screen,
        "print_map": printed,
        "print_map_head": second_head(screen.head, printed.head),
        "ranks": json_for_script(rank_data(geojson)),
        "dates": _picker(session, view.agency.code, lst.list_date, has_list=True),
        "agency": view.agency.code,
        "colour": rank_colour,
        "ink": rank_ink,
        "count": count,
        "params": short_params(lst.params),
        "day_text": long_date(lst.list_date),
        "headline": headline(
            n_boxes=len(rows),
            cell_size_m=lst.cell_size_m,
            shift_start=lst.shift_start.astimezone(LONDON),
            shift_end=lst.shift_end.astimezone(LONDON),
            method=lst.method,
            params=lst.params,
            day=lst.list_date,
        ),
        "period_text": period_text(period, before=lst.list_date),
        "fresh": freshness(session, view.agency, lst.list_date, period),
        "csv_href": "page.csv?" + urlencode({"agency": view.agency.code, "date": lst.list_date}),
        # Only while a visit made now could count for this list (the day before to the day
        # after its date); older lists are for reading.
        "can_log": who.holds(*LOG_VISITS) and visit_window_open(lst.list_date),
        # One key per box and page view: pressing "Log visit" twice (or resending the form
        # after a lost answer) logs one visit.
        "keys": {r["cell_id"]: secrets.token_hex(16) for r in rows},
        "back": request.url.path + (f"?{query}" if query else ""),
        "logged": next((r for r in rows if r["cell_id"] == logged), None),
    }
    return render(request, "predictive/targets.html", context, who=who)


def _no_list_page(
    request: Request, session: Session, who: Principal, missing: NoList
) -> HTMLResponse:
    """A readable 404 page: no list for this date, how lists are made, and dates that have one."""
    agency = find_agency(session, code=missing.agency_code)
    links = [(d.isoformat(), page_url(missing.agency_code, d), long_date(d)) for d in missing.dates]
    defaults = DEFAULTS[missing.agency_code]
    categories = list(agency.categories) if agency else list(defaults.categories)
    period = incident_period(session, categories=categories)
    newest_data = None
    if period.next_day is not None:
        has = find_list(session, agency=agency, day=period.next_day) is not None
        newest_data = {
            "label": long_date(period.next_day),
            "href": page_url(missing.agency_code, period.next_day) if has else None,
            "how_to_make": "It has no list yet. "
            + how_to_make(missing.agency_code, period.next_day),
        }
    context = {
        "agency": missing.agency_code,
        "agency_name": agency.name if agency else defaults.name,
        "day_iso": missing.day.isoformat(),
        "day_text": long_date(missing.day),
        "links": links,
        "period_text": period_text(period),
        "newest_data": newest_data,
        "unknown_agency": False,
        "known": sorted(DEFAULTS),
        "dates": _picker(session, missing.agency_code, missing.day, has_list=False),
    }
    return render(request, "predictive/no_list.html", context, who=who, status_code=404)


def _unknown_agency_page(
    request: Request, who: Principal, agency: str, day: date_cls
) -> HTMLResponse:
    context = {
        "agency": agency,
        "agency_name": agency,
        "day_iso": day.isoformat(),
        "day_text": long_date(day),
        "links": [],
        "period_text": "",
        "newest_data": None,
        "unknown_agency": True,
        "known": sorted(DEFAULTS),
        "dates": [],
    }
    return render(request, "predictive/no_list.html", context, who=who, status_code=404)


def _bad_date_page(
    request: Request, session: Session, who: Principal, agency: str, asked: str, bad: InvalidInput
) -> HTMLResponse:
    """422: the date in the address cannot be read; what is accepted, and the picker."""
    known = agency in DEFAULTS
    context = {
        "agency": agency,
        "agency_name": _agency_name(session, agency) if known else agency,
        "asked": asked[:40] + ("…" if len(asked) > 40 else ""),
        "problem": bad.detail,
        "known": sorted(DEFAULTS),
        "dates": _picker(session, agency, today_london(), has_list=False) if known else [],
    }
    return render(request, "predictive/bad_date.html", context, who=who, status_code=422)


@router.get(f"{PAGE}/ranks.js", include_in_schema=False)
def ranks_script(who: Reader) -> FileResponse:
    """The rank labels' layout script, for the people the list page is for (signed in)."""
    return FileResponse(RANKS_JS, media_type="text/javascript; charset=utf-8")


def _agency_name(session: Session, code: str) -> str:
    try:
        agency = find_agency(session, code=code)
    except NotFound:
        return code
    if agency is not None:
        return agency.name
    return DEFAULTS[code].name


def _wrong_agency_page(
    request: Request, session: Session, who: Principal, asked: str, date: str | None
) -> HTMLResponse:
    """403: a crew member asked for another agency's list; a link to their own."""
    own = who.agency or ""
    query = {"agency": own} | ({"date": date} if date else {})
    context = {
        "own": own,
        "own_name": _agency_name(session, own),
        "asked": asked,
        "asked_name": _agency_name(session, asked),
        "own_href": f"{PAGE}?{urlencode(query)}",
    }
    return render(request, "predictive/wrong_agency.html", context, who=who, status_code=403)


@router.post(f"{PAGE}/visit", include_in_schema=False)
def targets_page_visit(
    request: Request,
    session: SessionDep,
    who: MaybePrincipal,
    list_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    cell_id: Annotated[str, Form(min_length=1, max_length=40)],
    crew: Annotated[str, Form(max_length=120)],
    notes: Annotated[str, Form(max_length=2000)] = "",
    key: Annotated[str, Form(max_length=64, pattern=r"^[0-9a-f]*$")] = "",
    back: Annotated[str, Form(max_length=500)] = PAGE,
) -> Response:
    """Log a visit from the list page (a crew member signed in), then show the list again.

    The caller comes from the shared dependency: with the session cookie it has already checked
    that the form comes from the suite and carries the session's CSRF token (403 if not). The
    same-origin check is made here for Bearer callers too.
    """
    if who is None:
        message = "Your sign-in has ended. Sign in again, then log the visit again."
        return sign_in_page(request, next_url=_back(back), message=message)
    if not who.holds(*LOG_VISITS):
        raise PageForbidden(who, LOG_VISITS, "Logging a visit")
    check_same_origin(request, what="Visits")
    if not crew.strip():
        raise InvalidInput("Say which crew visited", errors=[{"field": "crew", "message": "empty"}])
    check_agency(who, list_agency_code(session, list_id=list_id))
    # visited_at None: now; the same form sent again (a double press, a resend after a lost
    # answer) carries the same key and gets the first visit back.
    log_visit_for_list(
        session,
        list_id=list_id,
        cell_id=cell_id,
        visited_at=None,
        crew=crew,
        notes=notes.strip() or None,
        actor=who.actor,
        idempotency_key=key or None,
        caller=who.caller,
    )
    target = _back(back)
    sep = "&" if "?" in target else "?"
    return RedirectResponse(
        f"{target}{sep}{urlencode({'logged': cell_id})}#box-{cell_id}", status_code=303
    )


def _back(value: str) -> str:
    """Where a visit form returns to: a list page on this site, else the list page."""
    target = safe_next(value, default=PAGE)
    return target if target == PAGE or target.startswith(PAGE + "?") else PAGE


@router.get(f"{PAGE}.csv", include_in_schema=False)
def targets_page_csv(
    request: Request,
    session: SessionDep,
    agency: Annotated[str, Query(min_length=1, max_length=20)],
    date: Annotated[Any, Query(description="YYYY-MM-DD (default today)")] = None,
) -> Response:
    """The page's list as CSV for the person signed in (formulas neutralised)."""
    who = page_user(request, session, *READ_LISTS, what=WHAT)
    if not who.may_see_agency(agency):
        return _wrong_agency_page(request, session, who, agency, date)
    # Reading never writes: a missing list is NoList (a 404 problem).
    return csv_response(get_list(session, agency_code=agency, day=_day(date)))


def _day(date: str | None) -> date_cls:
    """The date asked for (default today), or InvalidInput naming the accepted years."""
    try:
        return in_years(date_cls.fromisoformat(date)) if date else today_london()
    except ValueError as exc:
        raise InvalidInput(
            f"date must be YYYY-MM-DD in the years {YEARS[0]} to {YEARS[1]}",
            errors=[{"field": "date", "message": str(exc)}],
        ) from exc
