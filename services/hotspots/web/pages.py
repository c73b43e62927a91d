"""Pages for people: the analyst map of surface runs.

The page itself carries no data, so it needs no token; its script asks for an API token once,
keeps it in ``localStorage`` (key ``csp_token``, shared by every CSP page of this origin) and
sends it as a Bearer header with every ``fetch``. The run list and the map come from the API.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["pages"])
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=4)
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def map_page() -> HTMLResponse:
    """The analyst map: list of surface runs, the chosen run's map, a form to start one."""
    return HTMLResponse(_template("map.html"), headers={"Cache-Control": "no-store"})
