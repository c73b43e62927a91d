"""Open311 use cases and queries: reports with their photo link and address, requests read back
(all of them for fault readers, a reporter's own otherwise) and FixMyStreet's status updates.

What a request or an update shows is public-safe: never who reported it, never the camera's
live health, never an operator's free-text note. ``status_notes`` and an update's
``description`` are the fixed public sentence of the fault's status (``PUBLIC_TEXT``); notes
stay in the control room (``/faults``), which fault readers read. Fault events carry no
"public" mark today, so no note is ever published.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.service import commit_change, find_camera, nearest_in_service
from services.assets.clock import aware, now_utc
from services.assets.enums import FaultStatus
from services.assets.faults import georeport as geo
from services.assets.faults.service import fault_events_for, log_fault_once
from services.assets.fields import utc_time
from services.assets.models import Camera, Fault, FaultEvent
from shared.errors import NotFound

BadRequest = geo.BadRequest
DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 366
MAX_ITEMS = 1000
MAX_IDS = 100
MAX_ID_LENGTH = 20
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 500
MEDIA_URL_MAX = 2048
_S = FaultStatus
PUBLIC_TEXT: dict[str, str] = {
    _S.OPEN: "The fault is logged and waiting for an engineer.",
    _S.IN_PROGRESS: "An engineer is working on the fault.",
    _S.FIXED: "The fault has been fixed.",
    _S.CLOSED: "The fault report has been closed.",
}
REOPENED = "The fault has been reopened and is waiting for an engineer."


class ServiceRequestUpdate(BaseModel):
    """A FixMyStreet ``request_update``: one status change of a fault."""

    update_id: str
    service_request_id: str
    status: str
    updated_datetime: datetime
    description: str
    media_url: str | None


@dataclass(frozen=True)
class Window:
    """A period of reports or updates, both ends UTC."""

    start: datetime
    end: datetime


def parse_when(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 date-time in UTC (naive: UTC), None when absent; BadRequest otherwise."""
    if raw is None or not raw.strip():
        return None
    try:
        dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return aware(utc_time(dt))
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"{name} must be an ISO 8601 date-time such as 2024-05-01T09:00:00Z, "
            f"got {raw[:40]!r} ({exc})"
        ) from None


def window(start_date: str | None, end_date: str | None) -> Window:
    """The period asked for: the last ``DEFAULT_WINDOW_DAYS`` to the end (default now); a start
    alone reads ``MAX_WINDOW_DAYS`` from it (up to now); longer periods are refused."""
    now = now_utc()
    start, end = parse_when(start_date, "start_date"), parse_when(end_date, "end_date")
    if start is None:
        end = end or now
        start = end - timedelta(days=DEFAULT_WINDOW_DAYS)
    elif end is None:
        end = min(now, start + timedelta(days=MAX_WINDOW_DAYS))
        end = max(end, start)
    if start > end:
        raise BadRequest("start_date is after end_date")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise BadRequest(
            f"start_date to end_date spans {(end - start).days} days; at most {MAX_WINDOW_DAYS}"
        )
    return Window(start, end)


def parse_ids(raw: str) -> list[str]:
    """Comma-separated request ids, at most ``MAX_IDS`` of at most ``MAX_ID_LENGTH`` each."""
    ids = [i.strip() for i in raw.split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise BadRequest(f"service_request_id names {len(ids)} requests; at most {MAX_IDS}")
    long = [i for i in ids if len(i) > MAX_ID_LENGTH]
    if long:
        raise BadRequest(f"service_request_id {long[0][:30]!r}... is not a request id")
    return ids


def check_status(status: str | None) -> str | None:
    """``open`` or ``closed`` (or None); BadRequest naming the choices otherwise."""
    if status and status not in geo.GEOREPORT_STATUSES:
        raise BadRequest(f"status must be one of: {', '.join(geo.GEOREPORT_STATUSES)}")
    return status or None


def public_text(from_status: str | None, to_status: str) -> str:
    """The public sentence of a status (a move back to open says it was reopened)."""
    if to_status == _S.OPEN and from_status is not None:
        return REOPENED
    return PUBLIC_TEXT.get(to_status, f"Fault status: {to_status.replace('_', ' ')}")


def find_requests(
    session: Session,
    *,
    reporter: str | None,
    ids: list[str] | None = None,
    code: str | None = None,
    status: str | None = None,
    period: Window | None = None,
) -> list[geo.ServiceRequest]:
    """Faults as service requests, newest first, at most ``MAX_ITEMS``: by ``ids``, or reported
    in ``period``; only ``reporter``'s own when it is given."""
    if code:
        geo.check_code(code)
    geom = func.ST_Transform(Camera.geom, 4326)
    stmt = select(Fault, Camera.asset_tag, Camera.name, func.ST_X(geom), func.ST_Y(geom)).join(
        Camera, Camera.id == Fault.camera_id
    )
    stmt = _mine(stmt, reporter)
    if ids is not None:
        stmt = stmt.where(Fault.number.in_(ids))
    if code:
        stmt = stmt.where(Fault.category == code)
    if status:
        stmt = stmt.where(Fault.status.in_(geo.GEOREPORT_STATUSES[status]))
    if period is not None:
        stmt = stmt.where(Fault.reported_at >= period.start, Fault.reported_at <= period.end)
    rows = session.execute(
        stmt.order_by(Fault.reported_at.desc(), Fault.id.desc()).limit(MAX_ITEMS)
    ).all()
    events = fault_events_for(session, fault_ids=[r[0].id for r in rows])
    return [_request(f, tag, name, lon, lat, events[f.id]) for f, tag, name, lon, lat in rows]


def get_request(session: Session, *, number: str, reporter: str | None) -> geo.ServiceRequest:
    """One fault by number (a reporter's own only, when given); NotFound otherwise."""
    found = find_requests(session, reporter=reporter, ids=parse_ids(number)[:1])
    if not found:
        raise NotFound(f"No service request {number[:30]!r}")
    return found[0]


def _mine(stmt: Select, reporter: str | None) -> Select:  # type: ignore[type-arg]
    return stmt if reporter is None else stmt.where(Fault.reporter_key == reporter)


def _moves(events: list[FaultEvent]) -> list[FaultEvent]:
    return [e for e in events if e.from_status is not None and e.from_status != e.to_status]


def _request(
    fault: Fault, tag: str, name: str, lon: float, lat: float, events: list[FaultEvent]
) -> geo.ServiceRequest:
    moves = _moves(events)
    hours = lc.SLA_HOURS.get(fault.category)
    return geo.ServiceRequest(
        service_request_id=fault.number,
        status="open" if fault.status in lc.OPEN_STATUSES else "closed",
        status_notes=public_text(moves[-1].from_status if moves else None, fault.status),
        service_name=geo.service(fault.category).service_name,
        service_code=fault.category,
        description=fault.description,
        agency_responsible=geo.AGENCY,
        service_notice=f"Fault status: {fault.status.replace('_', ' ')}",
        requested_datetime=fault.reported_at,
        updated_datetime=moves[-1].at if moves else fault.reported_at,
        expected_datetime=fault.reported_at + timedelta(hours=hours) if hours else None,
        address=name,
        address_id=tag,
        zipcode=None,
        lat=round(float(lat), 6),
        long=round(float(lon), 6),
        media_url=fault.media_url,
    )


def find_updates(
    session: Session, *, reporter: str | None, period: Window
) -> list[ServiceRequestUpdate]:
    """Status changes made in ``period``, oldest first, at most ``MAX_ITEMS`` (the report itself
    and notes are not updates); only ``reporter``'s requests when it is given."""
    stmt = (
        select(FaultEvent, Fault.number)
        .join(Fault, Fault.id == FaultEvent.fault_id)
        .where(
            FaultEvent.from_status.is_not(None),
            FaultEvent.from_status != FaultEvent.to_status,
            FaultEvent.at >= period.start,
            FaultEvent.at <= period.end,
        )
    )
    rows = session.execute(
        _mine(stmt, reporter).order_by(FaultEvent.at, FaultEvent.id).limit(MAX_ITEMS)
    ).all()
    return [
        ServiceRequestUpdate(
            update_id=str(e.id),
            service_request_id=number,
            status=e.to_status,
            updated_datetime=e.at,
            description=public_text(e.from_status, e.to_status),
            media_url=None,
        )
        for e, number in rows
    ]


def check_media_url(raw: str | None) -> str | None:
    """An absolute http(s) URL of at most ``MEDIA_URL_MAX`` characters, or None."""
    url = (raw or "").strip()
    if not url:
        return None
    if len(url) > MEDIA_URL_MAX:
        raise BadRequest(f"media_url is {len(url)} characters long; at most {MEDIA_URL_MAX}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadRequest("media_url may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BadRequest("media_url is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadRequest("media_url must be an http:// or https:// address of the photo")
    return url


def check_text(raw: str | None, name: str, most: int) -> str:
    """``raw`` stripped, at most ``most`` characters."""
    text = (raw or "").strip()
    if len(text) > most:
        raise BadRequest(f"{name} is {len(text)} characters long; at most {most}")
    return text


def check_degrees(raw: str | None, name: str) -> float | None:
    """A finite number from a form field, or None when absent."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number of WGS84 degrees, got {raw[:30]!r}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number")
    return value


def camera_for(
    session: Session, *, ref: str | None, lon: float | None, lat: float | None
) -> Camera:
    """The camera named by ``ref`` (tag or id), else the one in service nearest lat/long."""
    if ref and ref.strip():
        camera = find_camera(session, ref=ref[:100])
        if camera is None:
            raise BadRequest(f"No camera with asset tag or id {ref.strip()[:100]!r}")
        return camera
    if lon is None or lat is None:
        raise BadRequest("Name the camera with attribute[camera] or give lat and long")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest(f"lat/long ({lat}, {lon}) are not WGS84 degrees")
    camera = nearest_in_service(session, lon=lon, lat=lat, within_m=geo.NEAREST_CAMERA_M)
    if camera is None:
        raise BadRequest(
            f"No camera in service within {geo.NEAREST_CAMERA_M:g} m of lat {lat}, long {lon}; "
            "name the camera with attribute[camera] (asset tag or id)"
        )
    return camera


@dataclass(frozen=True)
class Report:
    """A checked GeoReport POST."""

    code: str
    camera_ref: str | None
    lon: float | None
    lat: float | None
    description: str
    media_url: str | None
    address_string: str | None


def report_fault(
    session: Session,
    *,
    report: Report,
    actor: str,
    caller: int | str,
    idempotency_key: str | None,
) -> geo.PostResult:
    """Log the fault once per caller's Idempotency-Key, keeping its photo link and address."""
    geo.check_code(report.code, reporting=True)
    camera = camera_for(session, ref=report.camera_ref, lon=report.lon, lat=report.lat)
    fault, _ = log_fault_once(
        session,
        camera_id=camera.id,
        category=report.code,
        description=report.description or f"{geo.service(report.code).service_name} (Open311)",
        actor=actor,
        caller=caller,
        source="open311",
        idempotency_key=idempotency_key,
        allow_duplicate=True,
    )
    # The fault use case commits; what only Open311 carries follows in a second commit. A
    # retry with the same key finds the fault and fills in what is still missing.
    if fault.reporter_key is None:
        fault.reporter_key = str(caller)
        fault.media_url = report.media_url
        fault.address_string = report.address_string or None
        commit_change(session)
    notice = f"Fault {fault.number} logged on {camera.asset_tag} ({camera.name})"
    return geo.PostResult(service_request_id=fault.number, service_notice=notice)
