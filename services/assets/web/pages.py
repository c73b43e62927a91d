"""Pages for people: the SEG review map (``/map``) and the control-room fault log.

Auth design. Both page shells are served to anyone and hold no restricted data by themselves.

- ``/map`` is rendered on the server. Without a token it shows what the OGC API publishes
  (cameras on the street, their health and view cones). Signing in (``POST /map/sign-in`` with an
  API token) validates the token and keeps it in an ``HttpOnly``, ``SameSite=Strict`` cookie
  scoped to ``/map``; the map then adds every lifecycle, open faults in the popups and (for
  seg, analyst and admin tokens) the recommendations with their evidence. The cookie is read
  only by these read-only GET pages, never by the JSON API, so it cannot be used to change data
  (no CSRF surface). ``POST /map/sign-out`` clears it.
- ``/control-room`` is a static shell; its script calls the JSON API with the operator's token
  as ``Authorization: Bearer``. The token is pasted once and kept in the browser's
  ``localStorage`` (per device; "Forget token" clears it).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras import schemas as sc
from services.assets.cameras import service as cameras_svc
from services.assets.dependencies import FAULT_READERS, REVIEW_READERS, SettingsDep
from services.assets.faults import service as faults_svc
from services.assets.models import Camera
from services.assets.recommendations import service as recs_svc
from services.assets.settings import AssetsSettings
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
from shared.auth import Principal, lookup
from shared.db import SessionDep
from shared.pages import check_same_origin

HERE = Path(__file__).resolve().parent
SHARED_TEMPLATES = HERE.parents[2] / "shared" / "templates"
COOKIE = "csp_map_token"
COOKIE_MAX_AGE_S = 12 * 3600
# The map shows what the API lets each role read (admins read everything).
REC_ROLES = (*REVIEW_READERS, "admin")
FAULT_ROLES = (*FAULT_READERS, "admin")
MAX_CAMERAS = 5000

_env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(SHARED_TEMPLATES)]),
    autoescape=select_autoescape(["html"]),
)
templates = Jinja2Templates(env=_env)

router = APIRouter(tags=["pages"], include_in_schema=False)


def camera_view(camera: Camera) -> CameraView:
    """The map's view of a camera row (WGS84)."""
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
    )


def _cookie_path(request: Request) -> str:
    """The map's path (``/map`` unless the app is mounted under a prefix)."""
    return request.url_for("review_map").path


def _map_principal(request: Request, session: Session) -> Principal | None:
    token = request.cookies.get(COOKIE)
    return lookup(session, token) if token else None


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


def _recommendations(settings: AssetsSettings, session: Session) -> list[RecView]:
    recs = recs_svc.recommendations(
        session, window_days=settings.recommend_window_days, settings=settings
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


@router.get("/map", response_class=HTMLResponse)
def review_map(
    request: Request, session: SessionDep, settings: SettingsDep, tiles: bool = True
) -> Response:
    """The SEG review map; more layers once signed in with a token."""
    who = _map_principal(request, session)
    public = who is None
    rows, _ = cameras_svc.list_cameras(session, public=public, limit=MAX_CAMERAS)
    cams = [camera_view(c) for c in rows]
    # Faults are for the control room, the SEG and analysts (as GET /faults); not for crews.
    faults = _open_faults(session) if who and who.role in FAULT_ROLES else None
    recs = _recommendations(settings, session) if who and who.role in REC_ROLES else None
    built = build_review_map(cams, faults=faults, recommendations=recs, tiles=tiles)
    names = {c.id: c.name for c in cams}
    context = {
        "who": who,
        "map": built,
        "cameras": cams,
        "faults": faults or [],
        "faults_allowed": faults is not None,
        "recs": [
            (i, r, names.get(r.camera_id, f"camera {r.camera_id}"))
            for i, r in enumerate(recs or [])
        ],
        "recs_allowed": recs is not None,
        "legend": _legend(),
        "colours": LIFECYCLE_COLOURS,
        "error": request.query_params.get("error"),
    }
    response = templates.TemplateResponse(request, "map.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/map/sign-in")
def map_sign_in(
    request: Request, session: SessionDep, token: Annotated[str, Form(max_length=200)]
) -> Response:
    """Check the token and keep it in an HttpOnly cookie for the map."""
    check_same_origin(request, what="Sign-in")
    target = request.url_for("review_map").path  # a path: never a host taken from the request
    if lookup(session, token.strip()) is None:
        return RedirectResponse(target + "?error=token", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE_S,
        path=_cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/map/sign-out")
def map_sign_out(request: Request) -> Response:
    """Forget the map's token cookie."""
    check_same_origin(request, what="Sign-out")
    response = RedirectResponse(request.url_for("review_map").path, status_code=303)
    response.delete_cookie(COOKIE, path=_cookie_path(request))
    return response


@router.get("/control-room", response_class=HTMLResponse)
def control_room(request: Request) -> Response:
    """Log, update and close faults without page reloads (the JSON API, Bearer token)."""
    api_root = request.url_for("list_cameras").path.removesuffix("/cameras")
    categories = [(c, c.replace("_", " ").capitalize()) for c in lc.FAULT_CATEGORIES]
    context = {
        "api_root": api_root,
        "categories": categories,
        "transitions": lc.FAULT_TRANSITIONS,
        "sla_hours": lc.SLA_HOURS,
    }
    return templates.TemplateResponse(request, "control_room.html", context)
