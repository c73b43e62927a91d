"""The SEG review map (``/map``); the control room is in ``services.assets.web.control_room``.

Pages render through the suite's page kit (``shared.web.pages``: one template environment, the
base template's header with the person signed in, navigation and sign-out) and read the
person from the suite's one sign-in (the session cookie valid on the three services).

- ``/map`` is open to anyone. Nobody signed in sees what the OGC API publishes (cameras on the
  street, their health and view cones) and a "Sign in" link in the header. Signed in, the map
  adds every lifecycle, open faults (fault readers) and the recommendations with their evidence
  (review readers), saying what period the incident data cover and offering the window ending
  on the newest day with data when the chosen window has none (``?as_of=YYYY-MM-DD``).
- ``/control-room`` needs an operator (or admin): anyone else gets the sign-in page (401) or a
  page naming the role (403). Its script calls the JSON API with the session cookie and the
  page's CSRF token (``X-CSRF-Token`` from ``<meta name="csrf-token">``); no token anywhere.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras import schemas as sc
from services.assets.cameras import service as cameras_svc
from services.assets.clock import now_utc
from services.assets.dependencies import FAULT_READERS, REVIEW_READERS, SettingsDep
from services.assets.faults import service as faults_svc
from services.assets.models import Camera
from services.assets.recommendations import service as recs_svc
from services.assets.recommendations.coverage import EvidenceWindow
from services.assets.settings import AssetsSettings
from services.assets.web.evidence import EvidenceNote, evidence_note, parse_day
from services.assets.web.reviewmap import (
    HEALTH_STROKE,
    LIFECYCLE_COLOURS,
    LIFECYCLE_LABELS,
    REC_COLOUR,
    CameraView,
    FaultView,
    RecView,
    build_review_map,
)
from shared.auth import Principal
from shared.db import SessionDep
from shared.web.pages import page_caller, register_templates, render

HERE = Path(__file__).resolve().parent
register_templates("assets", HERE / "templates")
MAX_CAMERAS = 5000

router = APIRouter(tags=["pages"], include_in_schema=False)


def camera_view(camera: Camera) -> CameraView:
    """The map's view of a camera row (WGS84, with its OS grid reference)."""
    lon, lat = sc.camera_lonlat(camera)
    due = camera.next_review_due.isoformat() if camera.next_review_due else None
    return CameraView(
        id=camera.id,
        asset_tag=camera.asset_tag,
        name=camera.name,
        ward=camera.ward,
        lifecycle=camera.lifecycle,
        health=camera.health,
        technology=camera.technology,
        deployment=camera.deployment,
        lon=lon,
        lat=lat,
        cone=sc.camera_view_geojson(camera),
        next_review_due=due,
        grid_ref=sc.camera_grid_ref(camera),
    )


def _open_faults(session: Session) -> list[FaultView]:
    rows, _ = faults_svc.list_faults(session, open_only=True, limit=1000)
    out = []
    for f in rows:
        hours = lc.SLA_HOURS.get(f.category)
        due = f.reported_at + timedelta(hours=hours) if hours else None
        out.append(
            FaultView(
                f.camera_id, f.number, f.category, f.status, f.reported_at, f.description, due
            )
        )
    return out


def _recommendations(
    settings: AssetsSettings, session: Session, window: EvidenceWindow
) -> list[RecView]:
    recs = recs_svc.recommendations(
        session,
        window_days=settings.recommend_window_days,
        settings=settings,
        as_of=window.end,
        start=window.start,
    )
    return [
        RecView(r.camera_id, r.action, r.rule, r.reason, r.evidence, r.related_camera_id)
        for r in recs
    ]


def _legend() -> dict[str, Any]:
    return {
        "lifecycles": [(LIFECYCLE_LABELS[k], v) for k, v in LIFECYCLE_COLOURS.items()],
        "health": [(k, v["color"], v.get("dash_array")) for k, v in HEALTH_STROKE.items()],
        "rec_colour": REC_COLOUR,
    }


def _may(who: Principal | None, roles: tuple[str, ...]) -> bool:
    return who is not None and who.holds(*roles)


@router.get("/map", response_class=HTMLResponse)
def review_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    tiles: bool = True,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The SEG review map; more layers for people signed in (faults, recommendations)."""
    who = page_caller(request, session)
    rows, _ = cameras_svc.list_cameras(session, public=who is None, limit=MAX_CAMERAS)
    cams = [camera_view(c) for c in rows]
    faults = _open_faults(session) if _may(who, FAULT_READERS) else None
    note: EvidenceNote | None = None
    recs: list[RecView] | None = None
    if _may(who, REVIEW_READERS):
        day, day_error = parse_day(as_of)
        note = evidence_note(
            session,
            window_days=settings.recommend_window_days,
            as_of=day,
            day_error=day_error,
            now=now_utc(),
            map_path=request.url_for("review_map").path,
            tiles=tiles,
        )
        recs = _recommendations(settings, session, note.window)
    built = build_review_map(
        cams,
        faults=faults,
        recommendations=recs,
        tiles=settings.tile_url if tiles else "",
        tile_attribution=settings.tile_attribution,
    )
    by_id = {c.id: c for c in cams}
    context = {
        "map": built,
        "cameras": cams,
        "places": by_id,
        "faults": faults or [],
        "faults_allowed": faults is not None,
        "recs": [(i, r, by_id.get(r.camera_id)) for i, r in enumerate(recs or [])],
        "recs_allowed": recs is not None,
        "evidence": note,
        "legend": _legend(),
        "colours": LIFECYCLE_COLOURS,
    }
    return render(request, "assets/map.html", context, who=who)
