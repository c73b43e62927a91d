"""Pages for people: the analyst map of surface runs, and each finished run's standalone map.

The analyst page itself carries no data, so it needs no token; its script asks for an API token
once, keeps it in ``localStorage`` (key ``csp_token``, shared by every CSP page of this origin)
and sends it as a Bearer header with every ``fetch``. The run list and the maps come from the
API; a run's map (``/surfaces/{id}/map``) needs a token like the rest of a run's outputs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.hotspots.deps import AnyRole, LimitsDep, OutputDir, RunId
from services.hotspots.web.maps import run_map_html
from shared.db import SessionDep

router = APIRouter()
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=4)
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


@router.get("/map", response_class=HTMLResponse, include_in_schema=False, tags=["pages"])
def map_page() -> HTMLResponse:
    """The analyst map: list of surface runs, the chosen run's map, a form to start one."""
    return HTMLResponse(_template("map.html"), headers={"Cache-Control": "no-store"})


@router.get("/surfaces/{run_id}/map", tags=["surfaces"], response_class=HTMLResponse)
def surface_map(
    run_id: RunId, session: SessionDep, who: AnyRole, limits: LimitsDep, output_dir: OutputDir
) -> HTMLResponse:
    """A standalone folium map of the run (surface overlay, polygons, legend)."""
    html = run_map_html(session, run_id=run_id, output_dir=output_dir, max_cells=limits.max_cells)
    return HTMLResponse(html)
