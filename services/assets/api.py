"""JSON API of the CCTV register: thin handlers (parse -> service -> schema).

Roles: operators write faults and footage requests, SEG members record decisions, admins edit
the register, analysts read. Camera reads carry ``ETag: W/"<version>"``; PATCH, transitions and
decisions need ``If-Match`` (missing: 428, stale: 412). Fault and footage POSTs take an
``Idempotency-Key`` so a retry on a bad network does not record twice (``shared.idempotency``).

Who reads what (least privilege; admins hold every role). The register itself (cameras, their
devices and positions) is readable by every role, and its public part without a token.

- Faults, SLA breaches and availability: operator, seg, analyst. Operators run the faults; SEG
  weighs downtime in reviews; analysts measure it. Crews patrol target boxes and never handle
  camera faults, and a list of which cameras are down tells a reader where nobody is watching.
- Footage requests: operator only. They carry police references and notes about live
  investigations; operators record and answer them. SEG and analysts see the number of
  requests per camera in the recommendations' evidence, which is all a review needs.
- SEG decisions: seg and analyst. SEG records them; analysts evaluate what they changed.
  Operators see a decision's effect in the camera's lifecycle, not the minutes.
- Audit history: admin only. The trail holds every actor's name and the before/after of each
  write, footage references included; an audit of the register is an administrator's task.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from services.assets import schemas as sc
from services.assets import service as svc
from services.assets.models import Camera
from services.assets.register_import import import_cameras_csv
from shared.auth import AnyRole, MaybePrincipal, Principal, require
from shared.db import SessionDep
from shared.errors import InvalidInput, NotFound
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses
from shared.settings import AssetsSettings

router = APIRouter()

Admin = Annotated[Principal, Depends(require("admin"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Seg = Annotated[Principal, Depends(require("seg"))]
Reader = Annotated[Principal, Depends(require("seg", "analyst"))]
FaultReader = Annotated[Principal, Depends(require("operator", "seg", "analyst"))]
FootageReader = Annotated[Principal, Depends(require("operator"))]
DecisionReader = Annotated[Principal, Depends(require("seg", "analyst"))]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The ETag from the last read, e.g. W/"3"'),
]

# PostgreSQL's OFFSET is a bigint; the OGC API pages with the same bound.
MAX_OFFSET = 10**9
# A version is a bigint; longer digit runs name no version we issued (and int() of 4,301+
# digits raises, which was a 500).
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')


def etag(camera: Camera) -> str:
    """The weak ETag of a camera's current version."""
    return f'W/"{camera.version}"'


def parse_if_match(header: str | None, current: int | None = None) -> int | None:
    """The version named by If-Match (None when absent; -1 when it names none we issue)."""
    if header is None or not header.strip():
        return None
    for part in header.split(","):
        part = part.strip()
        if part == "*" and current is not None:
            return current
        m = _ETAG.match(part)
        if m:
            return int(m.group(1))
    return -1


def _settings(request: Request) -> AssetsSettings:
    s = request.app.state.settings
    return s if isinstance(s, AssetsSettings) else AssetsSettings()


def _camera_response(camera: Camera, status: int = 200, **headers: str) -> JSONResponse:
    body = sc.camera_read(camera).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers={"ETag": etag(camera), **headers})


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """The WGS84 box (finite degrees, min < max); the service clips it to the storage CRS."""
    if not raw:
        return None
    try:
        parts = tuple(float(v) for v in raw.split(","))
    except ValueError as exc:
        raise InvalidInput("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from exc
    if len(parts) != 4 or parts[0] >= parts[2] or parts[1] >= parts[3]:
        raise InvalidInput("bbox must be min_lon,min_lat,max_lon,max_lat with min < max")
    lon_ok = all(math.isfinite(v) and -180 <= v <= 180 for v in parts[0::2])
    lat_ok = all(math.isfinite(v) and -90 <= v <= 90 for v in parts[1::2])
    if not (lon_ok and lat_ok):
        raise InvalidInput("bbox must be WGS84 degrees: longitudes -180..180, latitudes -90..90")
    return parts[0], parts[1], parts[2], parts[3]


@router.get("/cameras", response_model=sc.CameraPage, tags=["cameras"])
def list_cameras(
    session: SessionDep,
    principal: MaybePrincipal,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    lifecycle: sc.Lifecycle | None = None,
    health: sc.Health | None = None,
    technology: sc.Technology | None = None,
    deployment: sc.Deployment | None = None,
    ward: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> sc.CameraPage:
    """Cameras; without a token only public fields of cameras on the street."""
    public = principal is None
    rows, total = svc.list_cameras(
        session, bbox=_bbox(bbox), lifecycle=lifecycle, health=None if public else health,
        technology=technology, deployment=deployment, ward=ward, q=q, public=public,
        limit=limit, offset=offset,
    )
    items = [sc.camera_public(c) for c in rows] if public else [sc.camera_read(c) for c in rows]
    return sc.CameraPage(items=items, total=total, limit=limit, offset=offset)  # type: ignore[arg-type]


@router.post("/cameras", status_code=201, response_model=sc.CameraRead, tags=["cameras"],
             responses={409: {"description": "Asset tag already registered"}})
def create_camera(
    body: sc.CameraCreate, session: SessionDep, who: Admin, request: Request
) -> JSONResponse:
    """Register a camera (admin)."""
    camera = svc.create_camera(session, data=body, actor=who.actor,
                               review_interval_days=_settings(request).review_interval_days)
    return _camera_response(camera, 201, Location=f"/cameras/{camera.id}")


@router.post("/cameras/import", response_model=sc.ImportReport, tags=["cameras"])
async def import_cameras(
    session: SessionDep, who: Admin, request: Request,
    file: Annotated[UploadFile, File(description="CSV: camera_id,location,area_name,"
                                                 "area_code,lon,lat")],
) -> sc.ImportReport:
    """Import a register CSV (admin); reports each row it cannot place."""
    content = await file.read()
    result = import_cameras_csv(
        session, content=content, file_name=file.filename or "upload.csv", actor=who.actor,
        review_interval_days=_settings(request).review_interval_days,
    )
    r = result.record
    return sc.ImportReport(
        import_id=r.id, rows_read=r.rows_read, added=r.rows_added, updated=r.rows_updated,
        unchanged=r.rows_unchanged, rejected=r.rows_rejected,
        errors=[sc.ImportRowError(**e) for e in result.errors], warnings=result.warnings,
    )


@router.get("/cameras/{camera_id}", response_model=sc.CameraRead, tags=["cameras"],
            responses={200: {"headers": {"ETag": {"description": 'W/"<version>"'}}}})
def get_camera(camera_id: int, session: SessionDep, principal: MaybePrincipal) -> Response:
    """One camera with its ETag; public fields only without a token."""
    camera = svc.get_camera(session, camera_id=camera_id)
    if principal is None:
        if camera.lifecycle not in svc.lc.PUBLIC_LIFECYCLES:
            raise NotFound(f"No camera with id {camera_id}")
        return JSONResponse(sc.camera_public(camera).model_dump(mode="json"))
    return _camera_response(camera)


@router.patch("/cameras/{camera_id}", response_model=sc.CameraRead, tags=["cameras"],
              responses={412: {"description": "Stale ETag"}, 428: {"description": "No If-Match"}})
def patch_camera(
    camera_id: int, body: sc.CameraPatch, session: SessionDep, who: Admin,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Correct register fields (admin, If-Match)."""
    camera = svc.update_camera(session, camera_id=camera_id, patch=body,
                               expected_version=parse_if_match(if_match), actor=who.actor)
    return _camera_response(camera)


@router.post("/cameras/{camera_id}/transitions", response_model=sc.CameraRead, tags=["cameras"],
             responses={409: {"description": "Not an allowed transition (see `allowed`)"},
                        412: {"description": "Stale ETag"}, 428: {"description": "No If-Match"}})
def transition_camera(
    camera_id: int, body: sc.TransitionIn, session: SessionDep, who: Admin, request: Request,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Move a camera to another lifecycle state (admin, If-Match)."""
    camera = svc.transition_camera(
        session, camera_id=camera_id, to=body.to, reason=body.reason,
        expected_version=parse_if_match(if_match), actor=who.actor,
        review_interval_days=_settings(request).review_interval_days,
    )
    return _camera_response(camera)


@router.get("/cameras/{camera_id}/history", response_model=list[sc.AuditRead], tags=["cameras"])
def camera_history(camera_id: int, session: SessionDep, who: Admin) -> list[sc.AuditRead]:
    """Audit trail of a camera: who, when, before, after, why."""
    return [sc.audit_read(r) for r in svc.camera_history(session, camera_id=camera_id)]


@router.get("/cameras/{camera_id}/devices", response_model=list[sc.DeviceRead], tags=["cameras"])
def camera_devices(camera_id: int, session: SessionDep, who: AnyRole) -> list[sc.DeviceRead]:
    """Devices that stood at this camera position (replacements link to their predecessor)."""
    svc.get_camera(session, camera_id=camera_id)
    rows = svc.camera_devices(session, camera_id=camera_id)
    return [sc.DeviceRead.model_validate(d) for d in rows]


@router.get("/cameras/{camera_id}/positions", response_model=list[sc.PositionRead],
            tags=["cameras"])
def camera_positions(camera_id: int, session: SessionDep, who: AnyRole) -> list[sc.PositionRead]:
    """Positions this camera has had (relocations)."""
    svc.get_camera(session, camera_id=camera_id)
    return [sc.position_read(p) for p in svc.camera_positions(session, camera_id=camera_id)]


@router.get("/cameras/{camera_id}/availability", response_model=sc.AvailabilityRead,
            tags=["faults"])
def camera_availability(
    camera_id: int, start: sc.UtcDatetime, end: sc.UtcDatetime, session: SessionDep,
    who: FaultReader,
) -> sc.AvailabilityRead:
    """Downtime and availability over [start, end) from fault intervals (overlaps merged)."""
    av = svc.camera_availability(session, camera_id=camera_id, start=start, end=end)
    return sc.AvailabilityRead(
        camera_id=av.camera_id, start=av.start, end=av.end,
        downtime_hours=round(av.downtime_hours, 3), degraded_hours=round(av.degraded_hours, 3),
        availability=round(av.availability, 6),
    )


def fault_etag(read: sc.FaultRead) -> str:
    """The weak ETag of a fault: how many status changes it has had (each adds an event)."""
    return f'W/"{len(read.events)}"'


def _fault_reads(session: SessionDep, faults: list[svc.Fault]) -> list[sc.FaultRead]:
    events = svc.fault_events_for(session, fault_ids=[f.id for f in faults])
    now = svc.now_utc()
    return [sc.fault_read(f, events[f.id], now=now) for f in faults]


@router.get("/cameras/{camera_id}/faults", response_model=sc.FaultPage, tags=["faults"])
def camera_faults(
    camera_id: int, session: SessionDep, who: FaultReader,
    status: sc.FaultStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> sc.FaultPage:
    """Faults of one camera, newest first."""
    svc.get_camera(session, camera_id=camera_id)
    rows, total = svc.list_faults(session, camera_id=camera_id, status=status, limit=limit,
                                  offset=offset)
    return sc.FaultPage(items=_fault_reads(session, rows), total=total, limit=limit,
                        offset=offset)


@router.post("/cameras/{camera_id}/faults", status_code=201, response_model=sc.FaultRead,
             tags=["faults"], responses=replay_responses(sc.FaultRead))
def log_fault(
    camera_id: int, body: sc.FaultCreate, session: SessionDep, who: Operator,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> sc.FaultRead:
    """Log a fault (operator); the camera's health follows. Retry with the same Idempotency-Key."""
    fault, created = svc.log_fault_once(
        session, camera_id=camera_id, category=body.category, description=body.description,
        reported_at=body.reported_at, actor=who.actor, caller=who.token_id,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    read = _fault_reads(session, [fault])[0]
    response.headers["ETag"] = fault_etag(read)
    return read


@router.get("/faults", response_model=sc.FaultPage, tags=["faults"])
def list_faults(
    session: SessionDep, who: FaultReader,
    status: sc.FaultStatus | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> sc.FaultPage:
    """All faults, newest first."""
    rows, total = svc.list_faults(session, status=status, open_only=open_only, limit=limit,
                                  offset=offset)
    return sc.FaultPage(items=_fault_reads(session, rows), total=total, limit=limit,
                        offset=offset)


@router.get("/faults/sla-breaches", response_model=list[sc.SlaBreachRead], tags=["faults"])
def sla_breaches(
    session: SessionDep, who: FaultReader, include_resolved: bool = False,
    since: sc.UtcDatetime | None = None,
) -> list[sc.SlaBreachRead]:
    """Faults past their SLA target (hours per category); open ones unless include_resolved."""
    rows = svc.sla_breaches(session, include_resolved=include_resolved, since=since)
    reads = _fault_reads(session, rows)
    names = {f.camera_id: svc.get_camera(session, camera_id=f.camera_id).name for f in rows}
    return [sc.SlaBreachRead(fault=r, camera_name=names[r.camera_id]) for r in reads]


@router.get("/faults/{fault_id}", response_model=sc.FaultRead, tags=["faults"])
def get_fault(
    fault_id: int, session: SessionDep, who: FaultReader, response: Response
) -> sc.FaultRead:
    """One fault with its SLA and history; the ETag changes with each status change."""
    read = _fault_reads(session, [svc.get_fault(session, fault_id=fault_id)])[0]
    response.headers["ETag"] = fault_etag(read)
    return read


@router.patch("/faults/{fault_id}", response_model=sc.FaultRead, tags=["faults"],
              responses={409: {"description": "Not an allowed status change"},
                         412: {"description": "Stale ETag"}})
def patch_fault(
    fault_id: int, body: sc.FaultPatch, session: SessionDep, who: Operator, response: Response,
    if_match: IfMatch = None,
) -> sc.FaultRead:
    """Change a fault's status (operator); the camera's health follows.

    ``If-Match`` is optional here (the control room moves faults with one press; two operators
    cannot both make the same change, the second gets 409); with it a stale ETag gets 412.
    """
    fault = svc.update_fault_status(session, fault_id=fault_id, status=body.status,
                                    actor=who.actor, note=body.note, at=body.at,
                                    expected_changes=parse_if_match(if_match))
    read = _fault_reads(session, [fault])[0]
    response.headers["ETag"] = fault_etag(read)
    return read


@router.get("/cameras/{camera_id}/footage-requests", response_model=list[sc.FootageRead],
            tags=["footage"])
def list_footage(
    camera_id: int, session: SessionDep, who: FootageReader
) -> list[sc.FootageRead]:
    """Police footage requests for a camera."""
    return [sc.footage_read(r) for r in svc.list_footage_requests(session, camera_id=camera_id)]


@router.post("/cameras/{camera_id}/footage-requests", status_code=201,
             response_model=sc.FootageRead, tags=["footage"],
             responses=replay_responses(sc.FootageRead))
def add_footage(
    camera_id: int, body: sc.FootageCreate, session: SessionDep, who: Operator,
    response: Response, idempotency_key: IdempotencyKey = None,
) -> sc.FootageRead:
    """Record a police footage request (operator). Retry with the same Idempotency-Key."""
    row, created = svc.add_footage_request(
        session, camera_id=camera_id, requested_on=body.requested_on, reference=body.reference,
        outcome=body.outcome, note=body.note, actor=who.actor, caller=who.token_id,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    return sc.footage_read(row)


@router.get("/cameras/{camera_id}/decisions", response_model=list[sc.DecisionRead],
            tags=["decisions"])
def list_decisions(
    camera_id: int, session: SessionDep, who: DecisionReader
) -> list[sc.DecisionRead]:
    """SEG decisions on a camera."""
    return [sc.decision_read(d) for d in svc.list_decisions(session, camera_id=camera_id)]


@router.post("/cameras/{camera_id}/decisions", status_code=201, response_model=sc.DecisionRead,
             tags=["decisions"],
             responses={409: {"description": "Decision not possible in this state"},
                        412: {"description": "Stale ETag"}, 428: {"description": "No If-Match"}})
def record_decision(
    camera_id: int, body: sc.DecisionCreate, session: SessionDep, who: Seg, request: Request,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Record an SEG decision and apply it to the camera (seg, If-Match)."""
    decision = svc.record_decision(
        session, camera_id=camera_id, data=body, expected_version=parse_if_match(if_match),
        actor=who.actor, review_interval_days=_settings(request).review_interval_days,
    )
    camera = svc.get_camera(session, camera_id=camera_id)
    return JSONResponse(sc.decision_read(decision).model_dump(mode="json"), status_code=201,
                        headers={"ETag": etag(camera)})


@router.get("/reviews/due", response_model=list[sc.ReviewDueRead], tags=["reviews"])
def reviews_due(
    session: SessionDep, who: AnyRole,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
    today: sc.IsoDate | None = None,
) -> list[sc.ReviewDueRead]:
    """In-service cameras whose review is due within ``within_days`` or overdue."""
    rows = svc.reviews_due(session, within_days=within_days, today=today)
    return [
        sc.ReviewDueRead(camera_id=r.camera.id, asset_tag=r.camera.asset_tag,
                         name=r.camera.name, lifecycle=r.camera.lifecycle,
                         next_review_due=r.camera.next_review_due,  # type: ignore[arg-type]
                         overdue=r.overdue, days_until_due=r.days_until_due)
        for r in rows
    ]


@router.get("/recommendations", response_model=sc.RecommendationsRead, tags=["reviews"])
def recommendations(
    session: SessionDep, who: Reader, request: Request,
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    as_of: sc.UtcDatetime | None = None,
) -> sc.RecommendationsRead:
    """Advice for the SEG with the evidence behind each item (seg, analyst, admin)."""
    settings = _settings(request)
    days = window_days or settings.recommend_window_days
    end = svc.aware(as_of) if as_of else svc.now_utc()
    recs = svc.recommendations(session, window_days=days, settings=settings, as_of=end)
    return sc.RecommendationsRead(
        window_start=end - svc.timedelta(days=days), window_end=end,
        items=[sc.RecommendationRead(camera_id=r.camera_id, action=r.action, rule=r.rule,
                                     reason=r.reason, evidence=r.evidence,
                                     related_camera_id=r.related_camera_id) for r in recs],
    )
