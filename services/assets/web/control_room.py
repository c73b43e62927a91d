"""The control room (``/control-room``): operators log, note, update and close faults.

It needs an operator (or admin): anyone else gets the sign-in page (401) or a page naming the
role (403). Its script calls the JSON API with the session cookie and the page's CSRF token
(``X-CSRF-Token`` from ``<meta name="csrf-token">``); no token anywhere. Before logging it warns
of an open fault of the same kind on the camera (and offers a note on it instead); it asks for a
note with each status change and a reason before closing a fault never marked fixed; it polls
``GET /faults/changes`` every ``POLL_MS`` and reloads its lists when another desk changed one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.assets import lifecycle as lc
from services.assets.dependencies import OPERATORS
from services.assets.faults.queries import SEARCH_MAX_CHARS
from services.assets.web import pages  # noqa: F401 - registers the service's templates
from shared.db import SessionDep
from shared.web.pages import page_user, render

router = APIRouter(tags=["pages"], include_in_schema=False)

# How often the page asks whether any fault changed (the issue asks for 10 s at most).
POLL_MS = 5000


@router.get("/control-room", response_class=HTMLResponse)
def control_room(request: Request, session: SessionDep) -> Response:
    """Log, update and close faults without page reloads (operators; the session, no token)."""
    who = page_user(request, session, *OPERATORS, what="The control room")
    api_root = request.url_for("list_cameras").path.removesuffix("/cameras")
    categories = [(c, c.replace("_", " ").capitalize()) for c in lc.FAULT_CATEGORIES]
    context = {
        "api_root": api_root,
        "categories": categories,
        "transitions": lc.FAULT_TRANSITIONS,
        "sla_hours": lc.SLA_HOURS,
        "poll_ms": POLL_MS,
        "search_max": SEARCH_MAX_CHARS,
        "board_url": request.url_for("health_board_page").path,
        "footage_url": request.url_for("footage_page").path,
    }
    return render(request, "assets/control_room.html", context, who=who)
