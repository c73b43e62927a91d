"""Footage requests (``/footage``): operators record police requests for a camera's footage
(police reference, time window, officer, outcome, retention) and update them.

Operators only (and admins), like the API: police references and notes about live
investigations stay with the people who answer them. The script calls the JSON API with the
session cookie and the page's CSRF token; a new request carries an Idempotency-Key, an update
its ETag (If-Match), so a retry never records twice and a stale update is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.assets.dependencies import OPERATORS
from services.assets.enums import FootageOutcome
from services.assets.footage import service as svc
from services.assets.web import pages  # noqa: F401 - registers the service's templates
from shared.db import SessionDep
from shared.web.pages import page_user, render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/footage", response_class=HTMLResponse)
def footage_page(request: Request, session: SessionDep) -> Response:
    """List, search, record and update police footage requests (operators; the session)."""
    who = page_user(request, session, *OPERATORS, what="Footage requests")
    api_root = request.url_for("list_cameras").path.removesuffix("/cameras")
    outcomes = [(str(o), str(o).replace("_", " ").capitalize()) for o in FootageOutcome]
    context = {
        "api_root": api_root,
        "outcomes": outcomes,
        "search_max": svc.SEARCH_MAX_CHARS,
        "max_window_days": svc.MAX_WINDOW.days,
        "control_room": request.url_for("control_room").path,
    }
    return render(request, "assets/footage.html", context, who=who)
