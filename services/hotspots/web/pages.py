"""Pages for people: the analyst map of surface runs, and each finished run's standalone map.

``/map`` renders through the suite's page kit (``shared.web.pages``) for a person signed in with
the role analyst or seg (or admin): nobody signed in gets the sign-in page, another role a page
naming the roles. It says what period the incident data cover (per source) and, analysts only,
offers the form that starts a run. Its script calls the JSON API with the session cookie
(``credentials: 'same-origin'``) and sends the page's CSRF token (``X-CSRF-Token`` from
``<meta name="csrf-token">``) with the POST that starts a run; no token is pasted or stored.
A run's map (``/surfaces/{id}/map``) and a comparison's (``/comparisons/{id}/map``) are API
routes for any role: a Bearer token or the session. The page's script is ``static/map.js``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from services.hotspots.deps import AnyRole, ComparisonId, LimitsDep, OutputDir, RunId
from services.hotspots.runs import coverage
from services.hotspots.web.compare_map import comparison_map_html
from services.hotspots.web.maps import run_map_html
from shared.db import SessionDep
from shared.web.deps import AppSettings
from shared.web.pages import page_user, register_templates, render

router = APIRouter()
TEMPLATES = Path(__file__).parent / "templates"
SCRIPT = Path(__file__).parent / "static" / "map.js"
register_templates("hotspots", TEMPLATES)

# Who may open the analyst map, and who may start a run from it (POST /surfaces: analysts).
MAP_ROLES = ("analyst", "seg")
RUN_ROLES = ("analyst",)
KERNELS = ("quartic", "triweight", "epanechnikov", "uniform", "triangular")


def long_date(day: date) -> str:
    """``30 September 2022``: a day as the page writes it."""
    return f"{day.day} {day:%B %Y}"


def period_view(p: coverage.SourcePeriod) -> dict[str, Any]:
    """A source's period for the template and the page's script."""
    return {
        "source": p.source,
        "label": p.label,
        "first_day": p.first_day.isoformat(),
        "last_day": p.last_day.isoformat(),
        "newest_day": p.newest_day.isoformat(),
        "first_text": long_date(p.first_day),
        "last_text": long_date(p.last_day),
        "by_month": p.by_month,
        "incidents": p.incidents,
        "incidents_text": f"{p.incidents:,} incident{'' if p.incidents == 1 else 's'}",
    }


@router.get("/map", response_class=HTMLResponse, include_in_schema=False, tags=["pages"])
def map_page(request: Request, session: SessionDep, limits: LimitsDep) -> HTMLResponse:
    """The analyst map: the data's period, the runs, the chosen run's hotspots and map."""
    who = page_user(request, session, *MAP_ROLES, what="The hotspot map")
    box = limits.allowed_box()
    periods = [period_view(p) for p in coverage.source_periods(session, box=box)]
    categories = coverage.category_counts(session, box=box)
    context = {
        "periods": periods,
        "can_run": who.holds(*RUN_ROLES),
        "kernels": KERNELS,
        "page_data": {
            "periods": periods,
            "categories": {s: [[c, n] for c, n in rows] for s, rows in categories.items()},
        },
    }
    return render(request, "hotspots/map.html", context, who=who)


@router.get("/map/map.js", include_in_schema=False, tags=["pages"])
def map_script(who: AnyRole) -> FileResponse:
    """The analyst map's script (for the people the page is for: signed in, any role)."""
    return FileResponse(SCRIPT, media_type="text/javascript; charset=utf-8")


@router.get("/surfaces/{run_id}/map", tags=["surfaces"], response_class=HTMLResponse)
def surface_map(
    run_id: RunId,
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    output_dir: OutputDir,
    settings: AppSettings,
) -> HTMLResponse:
    """A standalone folium map of the run (surface overlay, polygons, legend)."""
    html = run_map_html(
        session,
        run_id=run_id,
        output_dir=output_dir,
        max_cells=limits.max_cells,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )
    return HTMLResponse(html)


@router.get("/comparisons/{comparison_id}/map", tags=["comparisons"], response_class=HTMLResponse)
def comparison_map(
    comparison_id: ComparisonId,
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    output_dir: OutputDir,
    settings: AppSettings,
) -> HTMLResponse:
    """A standalone map of a comparison: the difference surface, the changed areas, a legend."""
    html = comparison_map_html(
        session,
        comparison_id=comparison_id,
        output_dir=output_dir,
        max_cells=limits.max_cells,
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )
    return HTMLResponse(html)
