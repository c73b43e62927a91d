"""Open311 GeoReport v2 for the assets service: faults reported against cameras.

``/open311/v2``: ``services.json`` (one service per fault category), ``services/{code}.json``
(the camera attribute), ``requests.json`` (GET list, POST a new report) and
``requests/{id}.json``. A service request is a fault; its ``service_request_id`` is the fault
number (F-YYYY-NNNNNN). GeoReport has two statuses: ``open`` (fault open or in progress) and
``closed`` (fixed or closed).

Choices, where this differs from a public street-reporting Open311 endpoint:

- Errors are RFC 9457 ``application/problem+json`` like the rest of the project, not GeoReport's
  ``[{"code": 400, "description": ...}]`` array: one error format across every API is easier for
  clients and logs than two. The problem body's ``detail`` carries the description.
- The service list and definitions are public. Reading requests needs a token of a role that
  reads faults in the JSON API (operator, seg, analyst, admin; not crew), because fault notes
  tell someone which cameras are down. Posting needs an operator token, sent as
  ``Authorization: Bearer`` or, as the spec expects, as the ``api_key`` form field.
- The camera is named by ``attribute[camera]`` (asset tag or numeric id) or ``address_id``
  (asset tag). With only ``lat``/``long``, the nearest camera in service within 50 m is used.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets import service as svc
from services.assets.models import Camera, Fault
from services.assets.schemas import utc_time
from shared.auth import MaybePrincipal, Principal, lookup
from shared.db import SessionDep
from shared.errors import AppError, Forbidden, NotFound, Unauthorized

PREFIX = "/open311/v2"
GROUP = "CCTV"
AGENCY = "Medway Community Safety Partnership CCTV"
NEAREST_CAMERA_M = 50.0
DEFAULT_WINDOW_DAYS = 90
MAX_REQUESTS = 1000
GEOREPORT_OPEN = {"open": lc.OPEN_STATUSES, "closed": ("fixed", "closed")}
# Who reads faults (as in services.assets.api); admins too.
FAULT_READERS = ("operator", "seg", "analyst", "admin")

SERVICE_TEXT: dict[str, tuple[str, str]] = {
    "no_picture": ("No picture", "The camera shows no picture at all."),
    "intermittent_picture": ("Intermittent picture", "The picture drops out or freezes."),
    "cabling": ("Cabling fault", "Damaged or disconnected cabling at the camera."),
    "power": ("Power failure", "The camera or its column has no power."),
    "network": ("Network fault", "The camera's link to the control room is down."),
    "vandalism": ("Vandalism", "The camera or housing has been damaged, moved or covered."),
    "pan_tilt_zoom": ("Pan/tilt/zoom fault", "The camera cannot be steered or zoomed."),
    "other": ("Other fault", "Any other camera fault."),
}

router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in (
        (400, "Bad request"),
        (401, "No valid token"),
        (403, "Wrong role"),
        (404, "Not found"),
        (409, "Camera cannot take faults"),
    )
}


class BadRequest(AppError):
    """A GeoReport request that cannot be served (400)."""

    status, title, slug = 400, "Bad request", "open311-bad-request"


class Service(BaseModel):
    """A GeoReport service: one fault category."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Attribute(BaseModel):
    """A GeoReport service attribute."""

    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[dict[str, str]] = []


class ServiceDefinition(BaseModel):
    """The attributes a service takes."""

    service_code: str
    attributes: list[Attribute]


class ServiceRequest(BaseModel):
    """A fault shown as a GeoReport service request."""

    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str
    address_id: str
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None


class PostResult(BaseModel):
    """What a POST returns: the new request's id and a notice."""

    service_request_id: str
    service_notice: str


def _service(code: str) -> Service:
    name, text = SERVICE_TEXT.get(code, (code.replace("_", " ").capitalize(), code))
    return Service(
        service_code=code,
        service_name=name,
        description=f"{text} Target fix time {lc.SLA_HOURS.get(code, 120):g} hours.",
        metadata=True,
        type="realtime",
        keywords=f"cctv,camera,fault,{code}",
        group=GROUP,
    )


def _check_code(code: str) -> None:
    if code not in lc.FAULT_CATEGORIES:
        raise NotFound(f"No service {code!r}; services are: {', '.join(lc.FAULT_CATEGORIES)}")


def _definition(code: str) -> ServiceDefinition:
    camera = Attribute(
        variable=True,
        code="camera",
        datatype="string",
        required=True,
        datatype_description="The camera's asset tag (e.g. CAM-00012) or numeric id",
        order=1,
        description="Which camera has the fault",
    )
    return ServiceDefinition(service_code=code, attributes=[camera])


def _principal(session: Session, bearer: Principal | None, api_key: str | None) -> Principal:
    """The caller from the Bearer header or, as GeoReport clients send it, ``api_key``."""
    if bearer is not None:
        return bearer
    if api_key:
        found = lookup(session, api_key)
        if found is not None:
            return found
        raise Unauthorized(
            "The api_key is not a valid token", headers={"WWW-Authenticate": "Bearer"}
        )
    raise Unauthorized(
        "This needs a token: 'Authorization: Bearer <token>' or the api_key field",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _fault_reader(session: Session, bearer: Principal | None) -> Principal:
    who = _principal(session, bearer, None)
    if who.role not in FAULT_READERS:
        raise Forbidden(f"Role '{who.role}' may not read faults; it needs one of: "
                        + ", ".join(FAULT_READERS))
    return who


def _find_camera(session: Session, ref: str) -> Camera:
    ref = ref.strip()
    camera = session.scalar(select(Camera).where(Camera.asset_tag == ref))
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses: a 500) and "٣٣"
    # (which int() reads as 33: another camera, silently).
    if camera is None and ref.isascii() and ref.isdigit() and len(ref) < 12:
        camera = session.get(Camera, int(ref))
    if camera is None:
        raise BadRequest(f"No camera with asset tag or id {ref!r}")
    return camera


def _nearest_camera(session: Session, lon: float, lat: float) -> Camera:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest(f"lat/long ({lat}, {lon}) are not WGS84 degrees")
    here = func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), 27700)
    camera = session.scalar(
        select(Camera)
        .where(
            Camera.lifecycle.in_(lc.IN_SERVICE),
            func.ST_DWithin(Camera.geom, here, NEAREST_CAMERA_M),
        )
        .order_by(func.ST_Distance(Camera.geom, here), Camera.id)
        .limit(1)
    )
    if camera is None:
        raise BadRequest(
            f"No camera in service within {NEAREST_CAMERA_M:g} m of lat {lat}, long {lon}; "
            "name the camera with attribute[camera] (asset tag or id)"
        )
    return camera


def _parse_when(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time, got {raw!r}") from None
    try:
        return svc.aware(utc_time(dt))
    except ValueError as exc:
        raise BadRequest(f"{name} {exc}") from None


def _requests(
    session: Session,
    *,
    ids: list[str] | None = None,
    code: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[ServiceRequest]:
    geom = func.ST_Transform(Camera.geom, 4326)
    stmt = select(Fault, Camera.asset_tag, Camera.name, func.ST_X(geom), func.ST_Y(geom)).join(
        Camera, Camera.id == Fault.camera_id
    )
    if ids is not None:
        stmt = stmt.where(Fault.number.in_(ids))
    if code:
        stmt = stmt.where(Fault.category == code)
    if status:
        stmt = stmt.where(Fault.status.in_(GEOREPORT_OPEN[status]))
    if start:
        stmt = stmt.where(Fault.reported_at >= start)
    if end:
        stmt = stmt.where(Fault.reported_at <= end)
    rows = session.execute(
        stmt.order_by(Fault.reported_at.desc(), Fault.id.desc()).limit(MAX_REQUESTS)
    ).all()
    events = svc.fault_events_for(session, fault_ids=[r[0].id for r in rows])
    return [_request(f, tag, name, lon, lat, events[f.id]) for f, tag, name, lon, lat in rows]


def _request(
    fault: Fault, tag: str, name: str, lon: float, lat: float, events: list[Any]
) -> ServiceRequest:
    last = events[-1] if events else None
    closed = fault.status not in lc.OPEN_STATUSES
    hours = lc.SLA_HOURS.get(fault.category)
    return ServiceRequest(
        service_request_id=fault.number,
        status="closed" if closed else "open",
        status_notes=(last.note if last and last.from_status is not None else None),
        service_name=_service(fault.category).service_name,
        service_code=fault.category,
        description=fault.description,
        agency_responsible=AGENCY,
        service_notice=f"Fault status: {fault.status.replace('_', ' ')}",
        requested_datetime=fault.reported_at,
        updated_datetime=last.at if last else fault.reported_at,
        expected_datetime=fault.reported_at + timedelta(hours=hours) if hours else None,
        address=name,
        address_id=tag,
        zipcode=None,
        lat=round(float(lat), 6),
        long=round(float(lon), 6),
        media_url=None,
    )


@router.get("/services.json", response_model=list[Service], summary="Service list")
def services() -> list[Service]:
    """One service per fault category (public)."""
    return [_service(code) for code in lc.FAULT_CATEGORIES]


@router.get(
    "/services/{service_code}.json",
    response_model=ServiceDefinition,
    responses=PROBLEMS,
    summary="Service definition",
)
def service_definition(service_code: str) -> ServiceDefinition:
    """The attributes of one service: the camera (required)."""
    _check_code(service_code)
    return _definition(service_code)


@router.get(
    "/requests.json",
    response_model=list[ServiceRequest],
    responses=PROBLEMS,
    summary="Service requests (faults)",
)
def get_requests(
    session: SessionDep,
    bearer: MaybePrincipal,
    service_request_id: Annotated[str | None, Query(description="Comma-separated ids")] = None,
    service_code: str | None = None,
    start_date: Annotated[str | None, Query(description="ISO 8601; default 90 days ago")] = None,
    end_date: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
) -> list[ServiceRequest]:
    """Faults as service requests, newest first (fault readers); the last 90 days unless dated."""
    _fault_reader(session, bearer)
    if service_code:
        _check_code(service_code)
    if service_request_id:
        ids = [i.strip() for i in service_request_id.split(",") if i.strip()]
        return _requests(session, ids=ids, code=service_code, status=status)
    end = _parse_when(end_date, "end_date")
    start = _parse_when(start_date, "start_date")
    if start is None:
        start = (end or datetime.now(UTC)) - timedelta(days=DEFAULT_WINDOW_DAYS)
    if end is not None and start > end:
        raise BadRequest("start_date is after end_date")
    return _requests(session, code=service_code, status=status, start=start, end=end)


@router.get(
    "/requests/{service_request_id}.json",
    response_model=list[ServiceRequest],
    responses=PROBLEMS,
    summary="One service request",
)
def get_request(
    service_request_id: str, session: SessionDep, bearer: MaybePrincipal
) -> list[ServiceRequest]:
    """One fault by number, as a one-item list (the GeoReport shape)."""
    _fault_reader(session, bearer)
    found = _requests(session, ids=[service_request_id])
    if not found:
        raise NotFound(f"No service request {service_request_id!r}")
    return found


class _PostForm:
    """The form fields of a GeoReport POST (``attribute[camera]`` keeps its bracket name)."""

    def __init__(
        self,
        service_code: Annotated[str, Form()],
        lat: Annotated[float | None, Form()] = None,
        long: Annotated[float | None, Form()] = None,
        camera: Annotated[str | None, Form(alias="attribute[camera]")] = None,
        address_id: Annotated[str | None, Form()] = None,
        description: Annotated[str | None, Form(max_length=4000)] = None,
        api_key: Annotated[str | None, Form()] = None,
        email: Annotated[str | None, Form()] = None,
        first_name: Annotated[str | None, Form()] = None,
        last_name: Annotated[str | None, Form()] = None,
    ) -> None:
        self.service_code = service_code
        self.lat, self.long = lat, long
        self.camera = camera or address_id
        self.description = (description or "").strip()
        self.api_key = api_key


@router.post(
    "/requests.json",
    status_code=201,
    response_model=list[PostResult],
    responses=PROBLEMS,
    summary="Report a fault",
)
def post_request(
    session: SessionDep,
    bearer: MaybePrincipal,
    form: Annotated[_PostForm, Depends()],
) -> JSONResponse:
    """Log a fault from a form-encoded GeoReport request (operator)."""
    who = _principal(session, bearer, form.api_key)
    if who.role not in ("operator", "admin"):
        raise Forbidden(f"Role '{who.role}' may not report faults; it needs operator or admin")
    _check_code(form.service_code)
    if form.camera:
        camera = _find_camera(session, form.camera)
    elif form.lat is not None and form.long is not None:
        camera = _nearest_camera(session, form.long, form.lat)
    else:
        raise BadRequest("Name the camera with attribute[camera] or give lat and long")
    description = form.description or f"{_service(form.service_code).service_name} (Open311)"
    fault = svc.log_fault(
        session,
        camera_id=camera.id,
        category=form.service_code,
        description=description,
        actor=who.actor,
        source="open311",
    )
    notice = f"Fault {fault.number} logged on {camera.asset_tag} ({camera.name})"
    body = [PostResult(service_request_id=fault.number, service_notice=notice).model_dump()]
    return JSONResponse(body, status_code=201)
