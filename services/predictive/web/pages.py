"""The daily list page: a map and the ranked boxes, readable on a phone and printable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.predictive import export, service
from shared.auth import Principal, require
from shared.db import SessionDep

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
        m = make_map((0.55, 51.39), zoom_start=11)
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


@router.get("/targets/page", response_class=HTMLResponse, summary="Printable daily list")
def targets_page(
    session: SessionDep,
    _: Annotated[Principal, Depends(require("crew", "analyst"))],
    agency: Annotated[str, Query(min_length=1, max_length=20)],
    date: Annotated[Any, Query(description="YYYY-MM-DD (default today)")] = None,
) -> HTMLResponse:
    """The agency's list for the date as a page: map, ranked boxes, print styles."""
    from datetime import date as date_cls

    from shared.errors import InvalidInput

    try:
        day = date_cls.fromisoformat(date) if date else service.today_london()
    except ValueError as exc:
        raise InvalidInput(
            "date must be YYYY-MM-DD", errors=[{"field": "date", "message": "not a date"}]
        ) from exc
    view, _created = service.get_or_create_list(session, agency_code=agency, day=day)
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


def _short_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    keys = ("theta", "omega_per_day", "background_per_day", "window_days", "radius_m")
    out = []
    for k in keys:
        v = params.get(k)
        if v is None:
            continue
        out.append((k, f"{v:.3g}" if isinstance(v, float) else str(v)))
    return out
