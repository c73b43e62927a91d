"""Faults as Open311 GeoReport v2 service requests: the services (one per fault category), the
request schemas, and the queries and use cases behind ``services.assets.open311``.

A service request is a fault; its ``service_request_id`` is the fault number (F-YYYY-NNNNNN).
GeoReport has two statuses: ``open`` (fault open or in progress) and ``closed`` (fixed or closed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.service import find_camera, nearest_in_service
from services.assets.clock import aware, now_utc
from services.assets.enums import FaultCategory
from services.assets.faults.service import fault_events_for, log_fault
from services.assets.fields import utc_time
from services.assets.models import Camera, Fault, FaultEvent
from shared.errors import AppError, NotFound

GROUP = "CCTV"
AGENCY = "Medway Community Safety Partnership CCTV"
NEAREST_CAMERA_M = 50.0
DEFAULT_WINDOW_DAYS = 90
MAX_REQUESTS = 1000
GEOREPORT_STATUSES: dict[str, tuple[str, ...]] = {
    "open": lc.OPEN_STATUSES,
    "closed": lc.RESOLVED_STATUSES,
}

_C = FaultCategory
SERVICE_TEXT: dict[str, tuple[str, str]] = {
    _C.NO_PICTURE: ("No picture", "The camera shows no picture at all."),
    _C.INTERMITTENT_PICTURE: ("Intermittent picture", "The picture drops out or freezes."),
    _C.CABLING: ("Cabling fault", "Damaged or disconnected cabling at the camera."),
    _C.POWER: ("Power failure", "The camera or its column has no power."),
    _C.NETWORK: ("Network fault", "The camera's link to the control room is down."),
    _C.VANDALISM: ("Vandalism", "The camera or housing has been damaged, moved or covered."),
    _C.PAN_TILT_ZOOM: ("Pan/tilt/zoom fault", "The camera cannot be steered or zoomed."),
    _C.NO_CONNECTION: ("No connection", "The control room cannot reach the camera's stream."),
    _C.AUTHENTICATION_FAILED: (
        "Authentication failed",
        "The camera refuses the control room's stream credentials.",
    ),
    _C.FROZEN_PICTURE: ("Frozen picture", "The picture does not change: it is stuck."),
    _C.OBSCURED: ("Obscured or out of focus", "The lens is covered, dirty or out of focus."),
    _C.VIEW_MOVED: ("View moved", "The camera no longer looks where it should."),
    _C.OTHER: ("Other fault", "Any other camera fault."),
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


def service(code: str) -> Service:
    """The GeoReport service of one fault category."""
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


# Categories only the control room's own systems can see (a member of the public cannot know
# the stream's credentials were refused): requests may carry them, reports may not.
NOT_REPORTABLE = frozenset({_C.NO_CONNECTION, _C.AUTHENTICATION_FAILED})
REPORTABLE = tuple(c for c in lc.FAULT_CATEGORIES if c not in NOT_REPORTABLE)


def services() -> list[Service]:
    """One service per fault category a reporter can see."""
    return [service(code) for code in REPORTABLE]


def check_code(code: str, *, reporting: bool = False) -> None:
    """NotFound unless ``code`` is a fault category (one a reporter may file, if ``reporting``)."""
    known = REPORTABLE if reporting else lc.FAULT_CATEGORIES
    if code not in known:
        raise NotFound(f"No service {code!r}; services are: {', '.join(known)}")


def definition(code: str) -> ServiceDefinition:
    """The attributes of one service: the camera (required)."""
    check_code(code, reporting=True)
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


def _parse_when(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time, got {raw!r}") from None
    try:
        return aware(utc_time(dt))
    except ValueError as exc:
        raise BadRequest(f"{name} {exc}") from None


def find_requests(
    session: Session,
    *,
    ids: str | None = None,
    code: str | None = None,
    status: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> list[ServiceRequest]:
    """Faults as service requests, newest first: by comma-separated numbers ``ids``, or those
    reported between ``start_date`` (default 90 days before the end) and ``end_date``."""
    if code:
        check_code(code)
    if ids:
        numbers = [i.strip() for i in ids.split(",") if i.strip()]
        return _requests(session, ids=numbers, code=code, status=status)
    end = _parse_when(end_date, "end_date")
    start = _parse_when(start_date, "start_date")
    if start is None:
        start = (end or now_utc()) - timedelta(days=DEFAULT_WINDOW_DAYS)
    if end is not None and start > end:
        raise BadRequest("start_date is after end_date")
    return _requests(session, code=code, status=status, start=start, end=end)


def get_request(session: Session, *, number: str) -> ServiceRequest:
    """One fault by number as a service request; NotFound if there is none."""
    found = _requests(session, ids=[number])
    if not found:
        raise NotFound(f"No service request {number!r}")
    return found[0]


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
        stmt = stmt.where(Fault.status.in_(GEOREPORT_STATUSES[status]))
    if start:
        stmt = stmt.where(Fault.reported_at >= start)
    if end:
        stmt = stmt.where(Fault.reported_at <= end)
    rows = session.execute(
        stmt.order_by(Fault.reported_at.desc(), Fault.id.desc()).limit(MAX_REQUESTS)
    ).all()
    events = fault_events_for(session, fault_ids=[r[0].id for r in rows])
    return [_request(f, tag, name, lon, lat, events[f.id]) for f, tag, name, lon, lat in rows]


def _request(
    fault: Fault, tag: str, name: str, lon: float, lat: float, events: list[FaultEvent]
) -> ServiceRequest:
    last = events[-1] if events else None
    closed = fault.status not in lc.OPEN_STATUSES
    hours = lc.SLA_HOURS.get(fault.category)
    return ServiceRequest(
        service_request_id=fault.number,
        status="closed" if closed else "open",
        status_notes=(last.note if last and last.from_status is not None else None),
        service_name=service(fault.category).service_name,
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


def _camera_for(
    session: Session, *, ref: str | None, lon: float | None, lat: float | None
) -> Camera:
    """The camera named by ``ref`` (tag or id), else the one in service nearest lat/long."""
    if ref:
        camera = find_camera(session, ref=ref)
        if camera is None:
            raise BadRequest(f"No camera with asset tag or id {ref.strip()!r}")
        return camera
    if lon is None or lat is None:
        raise BadRequest("Name the camera with attribute[camera] or give lat and long")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest(f"lat/long ({lat}, {lon}) are not WGS84 degrees")
    camera = nearest_in_service(session, lon=lon, lat=lat, within_m=NEAREST_CAMERA_M)
    if camera is None:
        raise BadRequest(
            f"No camera in service within {NEAREST_CAMERA_M:g} m of lat {lat}, long {lon}; "
            "name the camera with attribute[camera] (asset tag or id)"
        )
    return camera


def report_fault(
    session: Session,
    *,
    code: str,
    camera_ref: str | None,
    lon: float | None,
    lat: float | None,
    description: str,
    actor: str,
) -> PostResult:
    """Log a fault from a GeoReport POST on the camera it names (or the nearest in service)."""
    check_code(code)
    camera = _camera_for(session, ref=camera_ref, lon=lon, lat=lat)
    fault = log_fault(
        session,
        camera_id=camera.id,
        category=code,
        description=description or f"{service(code).service_name} (Open311)",
        actor=actor,
        source="open311",
    )
    notice = f"Fault {fault.number} logged on {camera.asset_tag} ({camera.name})"
    return PostResult(service_request_id=fault.number, service_notice=notice)
