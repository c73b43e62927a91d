"""Faults as Open311 GeoReport v2 service requests: the services (one per fault category), the
request schemas and the GeoReport statuses; the queries and use cases are in
``services.assets.open311``.

A service request is a fault; its ``service_request_id`` is the fault number (F-YYYY-NNNNNN).
GeoReport has two statuses: ``open`` (fault open or in progress) and ``closed`` (fixed or closed).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.assets import lifecycle as lc
from services.assets.enums import FaultCategory
from shared.errors import AppError, NotFound

GROUP = "CCTV"
AGENCY = "Medway Community Safety Partnership CCTV"
NEAREST_CAMERA_M = 50.0
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
