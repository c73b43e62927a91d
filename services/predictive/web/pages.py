"""The daily list page: a map and the ranked boxes, readable on a phone and printable."""

from __future__ import annotations

import secrets
from datetime import date as date_cls
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from services.predictive.dates import today_london
from services.predictive.dependencies import LOG_VISITS, READ_LISTS, allows
from services.predictive.lists import export
from services.predictive.lists.api import csv_response
from services.predictive.lists.service import ListView, NoList, get_list
from services.predictive.schemas import YEARS, in_years
from services.predictive.visits.service import log_visit_for_list, visit_window_open
from shared.auth import Principal
from shared.db import SessionDep
from shared.errors import Forbidden, InvalidInput, Unauthorized
from shared.pages import (
    check_same_origin,
    page_principal,
    safe_next,
    sign_in_page,
    sign_in_response,
)

router = APIRouter(tags=["pages"])
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
RANK_COLOURS = ((3, "#b2182b"), (10, "#ef8a62"), (10_000, "#fddbc7"))


def _colour(rank: int) -> str:
    return next(c for limit, c in RANK_COLOURS if rank <= limit)


def build_map(geojson: dict[str, Any]) -> Any:
    """A folium map of the boxes, coloured by rank, each labelled with its rank.

    Folium gets the box outlines and ranks (numbers) only; what a tooltip says (rank, ward, box
    id) is bound in the browser as text (``shared.maps.Bindings``), never compiled by folium.
    """
    import folium

    from shared.maps import Bindings, h, make_map, map_parts

    feats = geojson["features"]
    if not feats:
        # An empty list (no incidents before the date): the page shows the district map alone.
        return map_parts(make_map((0.55, 51.39), zoom_start=11))
    lons = [p[0] for f in feats for p in f["geometry"]["coordinates"][0]]
    lats = [p[1] for f in feats for p in f["geometry"]["coordinates"][0]]
    pad = 0.003
    m = make_map(bounds=(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad))
    shapes = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {"rank": int(f["properties"]["rank"])},
        }
        for f in feats
    ]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": shapes},
        name="boxes",
        style_function=lambda f: {
            "color": "#222",
            "weight": 1.5,
            "fillOpacity": 0.6,
            "fillColor": _colour(int(f["properties"]["rank"])),
        },
    ).add_to(m)
    bindings = Bindings()
    bindings.bind_features(
        layer,
        key="rank",
        entries={
            int(f["properties"]["rank"]): {
                "tooltip": h(
                    "span",
                    h("b", f"Rank {int(f['properties']['rank'])}"),
                    h("br"),
                    f"Ward: {f['properties'].get('ward') or 'none'}",
                    h("br"),
                    f"Box: {f['properties']['cell_id']}",
                )
            }
            for f in feats
        },
    )
    for f in feats:
        lon, lat = f["properties"]["centre"]
        folium.Marker(
            [float(lat), float(lon)],
            icon=folium.DivIcon(
                html=f'<div class="rank-label">{int(f["properties"]["rank"])}</div>',
                icon_size=(26, 26),
                icon_anchor=(13, 13),
            ),
        ).add_to(m)
    return map_parts(m, bindings)


@router.get("/targets/page", response_class=HTMLResponse, summary="Printable daily list")
def targets_page(
    request: Request,
    session: SessionDep,
    agency: Annotated[str, Query(min_length=1, max_length=20)],
    date: Annotated[Any, Query(description="YYYY-MM-DD (default today)")] = None,
) -> HTMLResponse:
    """The agency's list for the date as a page: map, ranked boxes, print styles.

    A phone cannot send a Bearer header: without one the page asks for the token once and
    keeps it in an HttpOnly cookie (see ``shared.pages``).
    """
    who = page_principal(request, session)
    if who is None:
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "error"])
        here = request.url.path + (f"?{query}" if query else "")
        return sign_in_page(
            action=str(request.url_for("targets_sign_in").path),
            next_url=here,
            title="Daily target boxes",
            error="That token was not accepted." if request.query_params.get("error") else None,
        )
    try:
        view = _list_view(session, who, agency, date)
    except NoList as missing:
        return _no_list_page(request, missing)
    geojson = export.to_geojson(view)
    parts = build_map(geojson)
    rows = export.box_rows(view)
    logged = request.query_params.get("logged")
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "logged"])
    html = _env.get_template("targets.html").render(
        meta=export.list_meta(view),
        rows=rows,
        parts=parts,
        colour=_colour,
        params=_short_params(view.target_list.params),
        list_id=view.target_list.id,
        # Only while a visit made now could count for this list (the day before to the day
        # after its date); older lists are for reading.
        can_log=allows(who.role, LOG_VISITS) and visit_window_open(view.target_list.list_date),
        # One key per box and page view: pressing "Log visit" twice (or resending the form
        # after a lost answer) logs one visit.
        keys={r["cell_id"]: secrets.token_hex(16) for r in rows},
        back=request.url.path + (f"?{query}" if query else ""),
        logged=next((r for r in rows if r["cell_id"] == logged), None),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _no_list_page(request: Request, missing: NoList) -> HTMLResponse:
    """A readable 404 page: no list for this date, how lists are made, and dates that have one."""
    links = []
    for d in missing.dates:
        query = urlencode({"agency": missing.agency_code, "date": d.isoformat()})
        links.append((d.isoformat(), f"{request.url.path}?{query}"))
    html = _env.get_template("no_list.html").render(
        agency=missing.agency_code, date=missing.day.isoformat(), links=links
    )
    return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-store"})


@router.post("/targets/page/visit", include_in_schema=False)
def targets_page_visit(
    request: Request,
    session: SessionDep,
    list_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    cell_id: Annotated[str, Form(min_length=1, max_length=40)],
    crew: Annotated[str, Form(max_length=120)],
    notes: Annotated[str, Form(max_length=2000)] = "",
    key: Annotated[str, Form(max_length=64, pattern=r"^[0-9a-f]*$")] = "",
    back: Annotated[str, Form(max_length=500)] = "/targets/page",
) -> Response:
    """Log a visit from the list page (a crew signed in on the page), then show the list again.

    The page cookie is SameSite=Lax, so other sites' forms do not carry it; the Origin (or
    Referer) must also be this site. This is the only write the page cookie allows.
    """
    who = page_principal(request, session)
    if who is None:
        raise Unauthorized("Sign in on the list page first")
    if not allows(who.role, LOG_VISITS):
        raise Forbidden(f"Role '{who.role}' may not log visits; crew may")
    check_same_origin(request, what="Visits")
    if not crew.strip():
        raise InvalidInput("Say which crew visited", errors=[{"field": "crew", "message": "empty"}])
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
    )
    target = safe_next(back, prefix="/targets/page")
    sep = "&" if "?" in target else "?"
    return RedirectResponse(
        f"{target}{sep}{urlencode({'logged': cell_id})}#box-{cell_id}", status_code=303
    )


@router.post("/targets/sign-in", include_in_schema=False)
def targets_sign_in(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/targets/page",
) -> Response:
    """Check the token and keep it in the page cookie for ``/targets``."""
    return sign_in_response(
        request,
        session,
        token=token,
        next_url=safe_next(next, prefix="/targets"),
        cookie_path="/targets",
    )


@router.get("/targets/page.csv", include_in_schema=False)
def targets_page_csv(
    request: Request,
    session: SessionDep,
    agency: Annotated[str, Query(min_length=1, max_length=20)],
    date: Annotated[Any, Query(description="YYYY-MM-DD (default today)")] = None,
) -> Response:
    """The page's list as CSV for a signed-in phone (the page cookie; formulas neutralised)."""
    who = page_principal(request, session)
    if who is None:
        raise Unauthorized("Sign in on the list page first")
    return csv_response(_list_view(session, who, agency, date))


def _list_view(session: Session, who: Principal, agency: str, date: str | None) -> ListView:
    """The agency's list for ``date`` (default today), for a caller allowed to see it."""
    if not allows(who.role, READ_LISTS):
        raise Forbidden(f"Role '{who.role}' may not see target lists; crew or analyst may")
    try:
        day = in_years(date_cls.fromisoformat(date)) if date else today_london()
    except ValueError as exc:
        raise InvalidInput(
            f"date must be YYYY-MM-DD in the years {YEARS[0]} to {YEARS[1]}",
            errors=[{"field": "date", "message": str(exc)}],
        ) from exc
    # Reading never writes: a missing list is NoList (the page shows it, the CSV is a 404).
    return get_list(session, agency_code=agency, day=day)


def _short_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("theta", "omega_per_day", "background_per_day", "window_days", "radius_m")
    out = []
    for k in keys:
        v = params.get(k)
        if v is None:
            continue
        out.append((k, f"{v:.3g}" if isinstance(v, float) else str(v)))
    return out
