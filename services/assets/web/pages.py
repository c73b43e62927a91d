"""The SEG review map (``/map``); the control room is in ``services.assets.web.control_room``.

Pages render through the suite's page kit (``shared.web.pages``: one template environment, the
base template's header with the person signed in, navigation and sign-out) and read the
person from the suite's one sign-in (the session cookie valid on the three services).

``/map`` is open to anyone. Nobody signed in sees where cameras on the street are, their type
and purpose: no health, no faults (which cameras are down tells a reader where nobody is
watching). Signed in, the map adds every lifecycle and what is due; fault readers see health
and open faults; review readers the recommendations over a window they choose (6, 12 or 24
months, or between dates) with how much of it the incident data cover, and the decisions
recorded since it began; the SEG records decisions from a camera, a recommendation or a
redundant pair. The form's script calls the JSON API with the session cookie, the page's CSRF
token, the camera's ETag (``If-Match``) and an ``Idempotency-Key``; on a 412 it reloads the
camera and says it changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras import service as cameras_svc
from services.assets.cameras.schedule import scheduled_for
from services.assets.clock import now_utc
from services.assets.dependencies import FAULT_READERS, REVIEW_READERS, SettingsDep
from services.assets.recommendations.coverage import LONDON
from services.assets.settings import AssetsSettings
from services.assets.web import reviewdata as data
from services.assets.web.evidence import (
    DATES,
    MONTH_CHOICES,
    NO_DATA,
    EvidenceNote,
    evidence_note,
    long_date,
    parse_window,
)
from services.assets.web.reviewmap import build_review_map
from services.assets.web.reviewviews import (
    DECISION_STROKE,
    HEALTH_STROKE,
    LIFECYCLE_COLOURS,
    LIFECYCLE_LABELS,
    REC_COLOUR,
    CameraView,
)
from shared.auth import Principal
from shared.db import SessionDep
from shared.maps import json_for_script
from shared.web.pages import page_caller, register_templates, render

HERE = Path(__file__).resolve().parent
register_templates("assets", HERE / "templates")
MAX_CAMERAS = 5000
# The query values the page reads are cut to these lengths before any work (dates, a window,
# camera ids; ``recorded`` names up to ``reviewdata.MAX_RECORDED`` decision ids).
MAX_PARAM = 60
MAX_RECORDED_PARAM = 200
DECIDERS = ("seg",)

router = APIRouter(tags=["pages"], include_in_schema=False)


def _legend(health: bool) -> dict[str, Any]:
    return {
        "lifecycles": [(k, LIFECYCLE_LABELS[k], v) for k, v in LIFECYCLE_COLOURS.items()],
        "health": (
            [(k, v["color"], v.get("dash_array")) for k, v in HEALTH_STROKE.items()]
            if health
            else []
        ),
        "rec_colour": REC_COLOUR,
        "decided_colour": DECISION_STROKE["applied"]["color"],
        "scheduled_colour": DECISION_STROKE["scheduled"]["color"],
    }


def _cut(value: str | None) -> str | None:
    """A query value cut to ``MAX_PARAM`` characters (what is cut is said as not a date)."""
    return value[:MAX_PARAM] if value else value


def _may(who: Principal | None, roles: tuple[str, ...]) -> bool:
    return who is not None and who.holds(*roles)


def _camera_id(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _cameras(session: Session, who: Principal | None) -> list[CameraView]:
    rows, _ = cameras_svc.list_cameras(session, public=who is None, limit=MAX_CAMERAS)
    due = scheduled_for(session, camera_ids=[c.id for c in rows]) if who else {}
    health = _may(who, FAULT_READERS)
    return [
        data.camera_view(c, health=health, due=due.get(c.id), signed_in=who is not None)
        for c in rows
    ]


def _review(
    session: Session,
    settings: AssetsSettings,
    note: EvidenceNote,
    cams: dict[int, CameraView],
    recorded: str | None,
) -> dict[str, Any]:
    """The recommendations, decisions and rows of a review reader's map."""
    decisions = data.decision_views(session, since=note.window.first_day)
    recs = data.mark_decided(data.recommendations(session, settings, note.window), decisions)
    rows = data.rec_rows(recs, cams)
    return {
        "recs": recs,
        "decisions": decisions,
        "rows": rows,
        "page_recs": data.page_recs(rows),
        "recorded": data.recorded_notice(recorded, decisions, cams),
    }


@router.get("/map", response_class=HTMLResponse)
def review_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    tiles: bool = True,
    as_of: str | None = None,
    months: str | None = None,
    first: Annotated[str | None, Query(alias="from")] = None,
    decide: str | None = None,
    rec: str | None = None,
    recorded: str | None = None,
) -> Response:
    """The SEG review map; more for people signed in (faults, recommendations, decisions).

    The query is read leniently and cut short first (``MAX_PARAM``): anything it cannot use
    is said on the page in words, never a JSON error.
    """
    as_of, months, first, decide, rec = (_cut(v) for v in (as_of, months, first, decide, rec))
    recorded = recorded[:MAX_RECORDED_PARAM] if recorded else None
    who = page_caller(request, session)
    cams = _cameras(session, who)
    by_id = {c.id: c for c in cams}
    faults = data.open_faults(session) if _may(who, FAULT_READERS) else None
    can_decide = _may(who, DECIDERS)
    note: EvidenceNote | None = None
    review: dict[str, Any] = {"recs": None, "decisions": None, "rows": [], "recorded": []}
    review["page_recs"] = {}
    now = now_utc()
    if _may(who, REVIEW_READERS):
        choice = parse_window(months, as_of, first, today=now.astimezone(LONDON).date())
        path = request.url_for("review_map").path
        note = evidence_note(session, choice=choice, now=now, map_path=path, tiles=tiles)
        review = _review(session, settings, note, by_id, recorded)
    built = build_review_map(
        cams,
        faults=faults,
        recommendations=review["recs"],
        decisions=review["decisions"],
        signed_in=who is not None,
        can_decide=can_decide,
        window_note=f"Incidents in view: {NO_DATA.lower()}" if note and note.without_data else None,
        tiles=settings.tile_url if tiles else "",
        tile_attribution=settings.tile_attribution,
    )
    open_camera = _camera_id(decide) if can_decide else None
    script_data = {
        "labels": dict(lc.DECISION_LABELS),
        "schedulable": [str(k) for k in lc.SCHEDULABLE],
        "today": now.astimezone(LONDON).date().isoformat(),
        "recs": review["page_recs"],
        "open": {"camera": open_camera, "rec": _camera_id(rec)} if open_camera else None,
    }
    context = {
        "map": built,
        "cameras": cams,
        "places": by_id,
        "faults": faults or [],
        "faults_allowed": faults is not None,
        "rows": review["rows"],
        "recs_allowed": review["recs"] is not None,
        "decisions": review["decisions"] or [],
        "recorded": review["recorded"],
        "evidence": note,
        "since_text": long_date(note.window.first_day) if note else "",
        "window_choices": [*(str(m) for m in MONTH_CHOICES), DATES],
        "tiles": tiles,
        "legend": _legend(faults is not None),
        "colours": LIFECYCLE_COLOURS,
        "can_decide": can_decide,
        "decidable": [c for c in cams if c.allowed_decisions] if can_decide else [],
        "script_data": json_for_script(script_data),
    }
    return render(request, "assets/map.html", context, who=who)
