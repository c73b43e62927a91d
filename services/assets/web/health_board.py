"""The health board (``/health-board``): every camera that can take faults with its health,
open faults, SLA breaches and availability over the last 30 days, with filters.

For the roles that read faults (operators, SEG, analysts; admins): the sign-in page (401) or a
page naming the roles (403) for anyone else. Filters are a plain GET form, so the board works
without its script and a filtered board can be bookmarked; a filter value the board does not
know is a readable message naming it (422), never a silent "no cameras". Beside the faults'
availability it shows what the health checks saw (the newest check, and the share of the
watched time with a picture). Its script asks ``/health-board/changes`` every ``POLL_MS`` and,
when a fault or a check changed, fetches the board again with the same filters and swaps the
totals and the table in place: the board follows the checks without a reload.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import func, select

from services.assets import lifecycle as lc
from services.assets.clock import LONDON, london_day
from services.assets.dependencies import FAULT_READERS, OPERATORS
from services.assets.faults import board as hb
from services.assets.faults.queries import changes_stamp
from services.assets.health import availability as ha
from services.assets.health.causes import SAID, Cause
from services.assets.health.models import CameraStream
from services.assets.web import pages  # noqa: F401 - registers the service's templates
from shared.db import SessionDep
from shared.web.pages import page_user, render

router = APIRouter(tags=["pages"], include_in_schema=False)

_TRUE = ("1", "true", "on", "yes")
# How often the board asks whether anything changed.
POLL_MS = 5000
# Times on the board are the partnership's own (Medway).
UK = LONDON


def _filters(request: Request, board: hb.Board) -> tuple[hb.BoardFilter, list[str]]:
    """The filters asked for, and a readable problem for each value the board does not know."""
    args = request.query_params
    problems: list[str] = []

    def pick(name: str, allowed: list[str], what: str) -> str | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            problems.append(
                f"There is no {what} \u201c{value[:60]}\u201d on the board; "
                f"choose one of: {', '.join(allowed) or 'none'}."
            )
            return None
        return value

    q = (args.get("q") or "").strip()
    if len(q) > hb.SEARCH_MAX_CHARS:
        problems.append(
            f"The search is {len(q)} characters long; at most {hb.SEARCH_MAX_CHARS} are taken."
        )
        q = ""
    filters = hb.BoardFilter(
        health=pick("health", [str(h) for h in lc.HEALTHS], "health"),
        ward=pick("ward", board.wards, "ward"),
        lifecycle=pick("lifecycle", board.lifecycles, "lifecycle"),
        open_only=(args.get("open") or "").lower() in _TRUE,
        breached_only=(args.get("breached") or "").lower() in _TRUE,
        q=q or None,
    )
    return filters, problems


@router.get("/health-board", response_class=HTMLResponse)
def health_board_page(request: Request, session: SessionDep) -> Response:
    """Every camera's health, open faults, SLA breaches and availability, with filters."""
    who = page_user(request, session, *FAULT_READERS, what="The health board")
    everything = hb.health_board(session)
    filters, problems = _filters(request, everything)
    rows = [r for r in everything.rows if hb.keep(r, filters)]
    ids = [r.id for r in rows]
    last = ha.last_checks(session, camera_ids=ids)
    # Within each health, a camera whose newest check failed comes first (the sort is stable,
    # so the board's order holds otherwise): a lost connection opens its fault only at the next
    # failure, and the operator should see it coming.
    failing = {cid for cid, c in last.items() if c.result != Cause.OK}
    rows.sort(key=lambda r: (hb.health_rank(r.health), r.id not in failing))
    board = replace(everything, rows=rows)
    today = london_day(everything.now)
    since = today - timedelta(days=hb.AVAILABILITY_DAYS - 1)
    context = {
        "last_checks": last,
        "checked": ha.checked_time(
            session, camera_ids=ids, first=since, end=today + timedelta(days=1), now=everything.now
        ),
        "said": {str(c): SAID[c] for c in Cause},
        "poll_ms": POLL_MS,
        "changes_url": request.url_for("health_board_changes").path,
        "board": board,
        "filters": filters,
        "problems": problems,
        "healths": [str(h) for h in lc.HEALTHS],
        "days": hb.AVAILABILITY_DAYS,
        "tz": UK,
        "search_max": hb.SEARCH_MAX_CHARS,
        "control_room": request.url_for("control_room").path if who.holds(*OPERATORS) else None,
        "filtered": any(
            (
                filters.health,
                filters.ward,
                filters.lifecycle,
                filters.open_only,
                filters.breached_only,
                filters.q,
            )
        ),
    }
    status = 422 if problems else 200
    return render(request, "assets/health_board.html", context, who=who, status_code=status)


@router.get("/health-board/changes")
def health_board_changes(request: Request, session: SessionDep) -> Response:
    """A stamp that changes when a fault changes or a camera is checked (the board's poll)."""
    page_user(request, session, *FAULT_READERS, what="The health board")
    faults, open_now = changes_stamp(session)
    checked, streams = session.execute(
        select(func.max(CameraStream.last_checked_at), func.count(CameraStream.camera_id))
    ).one()
    stamp = f"{faults}|{checked.isoformat() if checked else '-'}|{streams}"
    return JSONResponse({"stamp": stamp, "open": open_now}, headers={"Cache-Control": "no-store"})
