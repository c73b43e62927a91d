"""The daily list page: a map and the ranked boxes, readable on a phone and printable."""

from __future__ import annotations

from datetime import date as date_cls
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from services.predictive import export, service
from services.predictive.schemas import YEARS, in_years
from shared.auth import Principal
from shared.db import SessionDep
from shared.errors import Forbidden, InvalidInput, Unauthorized
from shared.pages import page_principal, safe_next, sign_in_page, sign_in_response

router = APIRouter(tags=["pages"])
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
RANK_COLOURS = ((3, "#b2182b"), (10, "#ef8a62"), (10_000, "#fddbc7"))


def _colour(rank: int) -> str:
    return next(c for limit, c in RANK_COLOURS if rank <= limit)


def build_map(geojson: dict[str, Any]) -> Any:
    """A folium map of the boxes, coloured by rank, each labelled with its rank."""
    import folium

    from shared.maps import make_map, map_parts

    feats = geojson["features"]
    if feats:
        lons = [p[0] for f in feats for p in f["geometry"]["coordinates"][0]]
        lats = [p[1] for f in feats for p in f["geometry"]["coordinates"][0]]
        pad = 0.003
        m = make_map(bounds=(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad))
    else:
        # An empty list (no incidents before the date): folium's tooltip refuses a layer
        # without features, so the page shows the district map alone.
        return map_parts(make_map((0.55, 51.39), zoom_start=11))
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        name="boxes",
        style_function=lambda f: {
            "color": "#222",
            "weight": 1.5,
            "fillOpacity": 0.6,
            "fillColor": _colour(int(f["properties"]["rank"])),
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["rank", "ward", "cell_id"], aliases=["Rank", "Ward", "Box"]
        ),
    ).add_to(m)
    for f in feats:
        lon, lat = f["properties"]["centre"]
        folium.Marker(
            [lat, lon],
            icon=folium.DivIcon(
                html=f'<div class="rank-label">{int(f["properties"]["rank"])}</div>',
                icon_size=(26, 26),
                icon_anchor=(13, 13),
            ),
        ).add_to(m)
    return map_parts(m)


PAGE_ROLES = ("crew", "analyst", "admin")


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
    view = _list_view(session, who, agency, date)
    geojson = export.to_geojson(view)
    parts = build_map(geojson)
    html = _env.get_template("targets.html").render(
        meta=export.list_meta(view),
        rows=export.box_rows(view),
        parts=parts,
        colour=_colour,
        params=_short_params(view.target_list.params),
    )
    return HTMLResponse(html)


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
    view = _list_view(session, who, agency, date)
    name = f"targets-{view.agency.code}-{view.target_list.list_date.isoformat()}.csv"
    return Response(
        export.to_csv(view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _list_view(session: Session, who: Principal, agency: str, date: str | None) -> Any:
    """The agency's list for ``date`` (default today), for a caller allowed to see it."""
    if who.role not in PAGE_ROLES:
        raise Forbidden(f"Role '{who.role}' may not see target lists; crew or analyst may")
    try:
        day = in_years(date_cls.fromisoformat(date)) if date else service.today_london()
    except ValueError as exc:
        raise InvalidInput(
            f"date must be YYYY-MM-DD in the years {YEARS[0]} to {YEARS[1]}",
            errors=[{"field": "date", "message": str(exc)}],
        ) from exc
    view, _created = service.get_or_create_list(session, agency_code=agency, day=day)
    return view


def _short_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("theta", "omega_per_day", "background_per_day", "window_days", "radius_m")
    out = []
    for k in keys:
        v = params.get(k)
        if v is None:
            continue
        out.append((k, f"{v:.3g}" if isinstance(v, float) else str(v)))
    return out
