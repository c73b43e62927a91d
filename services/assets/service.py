"""Use cases of the CCTV register: keyword-only, session first; each write commits once.

Cameras are positions (see ``models``); every write to a camera writes an audit row in the same
transaction. Camera writes lock the row (``SELECT ... FOR UPDATE``) and the ORM's version column
turns each UPDATE into a compare-and-set, so concurrent writers never lose an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import and_, false, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.models import (
    Camera,
    CameraDevice,
    CameraPosition,
    Decision,
    Fault,
    FaultEvent,
    FootageRequest,
)
from services.assets.recommend import Evidence, Recommendation, Thresholds, recommend
from services.assets.schemas import CameraCreate, CameraPatch, DecisionCreate
from shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from shared.geometry import point_to_bng
from shared.idempotency import bounded_wait, insert_once, release, replay, scoped_key
from shared.incidents.models import Incident
from shared.ogc import clip_bbox
from shared.settings import AssetsSettings

DEFAULT_REVIEW_DAYS = 365
# No fault, visit or report in this register predates 2000; a camera's own install date, when
# later, moves the start of the window. Clocks of the reporting devices may run a little fast.
FAULT_EARLIEST = date(2000, 1, 1)
FAULT_CLOCK_SLACK = timedelta(minutes=5)
# Radius used for incidents near a camera that has no recorded view (metres).
DEFAULT_VIEW_RADIUS_M = 50.0


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """``dt`` with a timezone (naive times are taken as UTC)."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- cameras


def get_camera(session: Session, *, camera_id: int, lock: bool = False) -> Camera:
    """A camera by id (optionally locked for update); NotFound if absent."""
    if lock:
        # A copy read earlier in this session may be older than the row we are about to lock;
        # expire it so the locked read replaces it instead of failing SQLAlchemy's version check.
        held = session.identity_map.get(session.identity_key(Camera, camera_id))
        if held is not None:
            session.expire(held)
    camera = session.get(
        Camera, camera_id, with_for_update=lock or None, populate_existing=lock
    )
    if camera is None:
        raise NotFound(f"No camera with id {camera_id}")
    return camera


def check_version(camera: Camera, expected_version: int | None) -> None:
    """Refuse a write without If-Match (428) or with a stale version (412)."""
    if expected_version is None:
        raise PreconditionRequired(
            "This change needs an If-Match header with the camera's current ETag "
            f'(GET /cameras/{camera.id} returns it, e.g. W/"{camera.version}")'
        )
    if expected_version != camera.version:
        raise PreconditionFailed(
            f"Camera {camera.id} changed since you read it (your version {expected_version}, "
            f"now {camera.version}); fetch it again and retry",
            extra={"current_version": camera.version},
        )


def _commit(session: Session) -> None:
    try:
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise PreconditionFailed(
            "The camera changed while this request ran; fetch it again and retry",
            internal=str(exc),
        ) from exc


def list_cameras(
    session: Session,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    lifecycle: str | Sequence[str] | None = None,
    health: str | Sequence[str] | None = None,
    technology: str | None = None,
    deployment: str | None = None,
    ward: str | None = None,
    q: str | None = None,
    public: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Camera], int]:
    """Cameras matching the filters, ordered by id, and the total count.

    ``bbox`` is WGS84 (min_lon, min_lat, max_lon, max_lat). ``public`` keeps only cameras that
    stand on the street (active, under review, being decommissioned).
    """
    stmt = select(Camera)
    if bbox is not None:
        # Cut to where EPSG:27700 is defined: a world box cannot be projected (it was a 500).
        clipped = clip_bbox(bbox)
        if clipped is None:
            stmt = stmt.where(false())
        else:
            # Index test on the box projected densified (its edges curve in BNG); exact test in
            # WGS84, the CRS the box was given in.
            env = func.ST_MakeEnvelope(*clipped, 4326)
            stmt = stmt.where(
                Camera.geom.op("&&")(func.ST_Transform(func.ST_Segmentize(env, 0.001), 27700)),
                func.ST_Intersects(func.ST_Transform(Camera.geom, 4326), env),
            )
    for col, value in ((Camera.lifecycle, lifecycle), (Camera.health, health)):
        if isinstance(value, str):
            stmt = stmt.where(col == value)
        elif value:
            stmt = stmt.where(col.in_(list(value)))
    if technology:
        stmt = stmt.where(Camera.technology == technology)
    if deployment:
        stmt = stmt.where(Camera.deployment == deployment)
    if ward:
        stmt = stmt.where(Camera.ward == ward)
    if q:
        like = contains_pattern(q)
        stmt = stmt.where(or_(Camera.name.ilike(like, escape="\\"),
                              Camera.asset_tag.ilike(like, escape="\\")))
    if public:
        stmt = stmt.where(Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Camera.id).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def contains_pattern(text_: str) -> str:
    """A LIKE pattern matching ``text_`` anywhere, its own % _ and \\ taken literally."""
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _place(camera: Camera, lon: float, lat: float) -> None:
    x, y = point_to_bng(lon, lat)
    camera.geom = from_shape(Point(x, y), srid=27700)
    _derive_view(camera, x, y)


def _derive_view(camera: Camera, x: float | None = None, y: float | None = None) -> None:
    if x is None or y is None:
        p = to_shape(camera.geom)
        x, y = p.x, p.y
    cone = lc.view_cone(x, y, camera.bearing_deg, camera.fov_deg, camera.range_m)
    camera.view_geom = from_shape(cone, srid=27700) if cone is not None else None


def create_camera(
    session: Session,
    *,
    data: CameraCreate,
    actor: str,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
    today: date | None = None,
    commit: bool = True,
) -> Camera:
    """Register a camera (position, first device, first position record); 409 on a used tag."""
    today = today or now_utc().date()
    tag = data.asset_tag
    if tag and session.scalar(select(Camera.id).where(Camera.asset_tag == tag)) is not None:
        raise Conflict(f"Asset tag {tag!r} is already registered", extra={"asset_tag": tag})
    fields = data.model_dump(exclude={"lon", "lat", "reason", "asset_tag"})
    # Take the id first so a generated tag costs no second UPDATE (the version stays 1).
    new_id = int(session.execute(text("SELECT nextval('assets.cameras_id_seq')")).scalar_one())
    camera = Camera(**fields, id=new_id, asset_tag=tag or f"CAM-{new_id:05d}", health="online")
    _place(camera, data.lon, data.lat)
    if camera.lifecycle == "active":
        camera.next_review_due = today + timedelta(days=review_interval_days)
    session.add(camera)
    session.flush()
    session.add(CameraDevice(camera_id=camera.id, technology=camera.technology,
                             installed_on=camera.installed_on,
                             expected_life_years=camera.expected_life_years))
    session.add(CameraPosition(camera_id=camera.id, geom=camera.geom,
                               bearing_deg=camera.bearing_deg,
                               valid_from=camera.installed_on or today, reason="registered"))
    session.flush()
    audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                 action="create", actor=actor, before=None, after=audit.snapshot(camera),
                 reason=data.reason)
    if commit:
        _commit(session)
    return camera


def update_camera(
    session: Session,
    *,
    camera_id: int,
    patch: CameraPatch,
    expected_version: int | None,
    actor: str,
) -> Camera:
    """Correct register fields (If-Match required); re-derives the view when geometry changes."""
    camera = get_camera(session, camera_id=camera_id, lock=True)
    check_version(camera, expected_version)
    before = audit.snapshot(camera)
    values = patch.model_dump(exclude_unset=True, exclude={"lon", "lat", "reason"})
    if camera.lifecycle == "decommissioned":
        raise Conflict(f"Camera {camera_id} is decommissioned; its record is read-only",
                       extra={"allowed": []})
    for k, v in values.items():
        setattr(camera, k, v)
    if patch.lon is not None and patch.lat is not None:
        _place(camera, patch.lon, patch.lat)
    elif {"bearing_deg", "fov_deg", "range_m"} & values.keys():
        _derive_view(camera)
    after = audit.snapshot(camera)
    if after == before:
        return camera
    session.flush()
    audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                 action="update", actor=actor, before=before, after=after, reason=patch.reason)
    _commit(session)
    return camera


def _apply_lifecycle(
    camera: Camera, to: str, *, today: date, review_interval_days: int
) -> None:
    """Move to ``to``; commissioning (into active from approved/in store) sets the next review."""
    if not lc.can_transition(camera.lifecycle, to):
        allowed = list(lc.allowed_next(camera.lifecycle))
        raise Conflict(
            f"Camera {camera.id} cannot go from {camera.lifecycle} to {to}; allowed next "
            f"states: {lc.shown_allowed(allowed)}",
            extra={"allowed": allowed, "current": camera.lifecycle},
        )
    if to == "active" and camera.lifecycle in ("approved", "in_store"):
        camera.next_review_due = today + timedelta(days=review_interval_days)
    if to in ("decommissioned", "rejected"):
        camera.next_review_due = None
    camera.lifecycle = to


def transition_camera(
    session: Session,
    *,
    camera_id: int,
    to: str,
    reason: str,
    expected_version: int | None,
    actor: str,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
    today: date | None = None,
) -> Camera:
    """An allowed lifecycle transition (409 naming the allowed next states otherwise)."""
    camera = get_camera(session, camera_id=camera_id, lock=True)
    check_version(camera, expected_version)
    before = audit.snapshot(camera)
    _apply_lifecycle(camera, to, today=today or now_utc().date(),
                     review_interval_days=review_interval_days)
    session.flush()
    audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                 action="transition", actor=actor, before=before, after=audit.snapshot(camera),
                 reason=reason)
    _commit(session)
    return camera


def camera_devices(session: Session, *, camera_id: int) -> list[CameraDevice]:
    """Devices that stood at a camera position, oldest first."""
    return list(session.scalars(select(CameraDevice).where(CameraDevice.camera_id == camera_id)
                                .order_by(CameraDevice.id)))


def camera_positions(session: Session, *, camera_id: int) -> list[CameraPosition]:
    """Positions a camera has had, oldest first."""
    return list(session.scalars(select(CameraPosition)
                                .where(CameraPosition.camera_id == camera_id)
                                .order_by(CameraPosition.id)))


def camera_history(session: Session, *, camera_id: int) -> list[Any]:
    """The audit trail of a camera and its faults, requests and decisions, oldest first."""
    from services.assets.models import AuditEntry

    get_camera(session, camera_id=camera_id)
    return list(session.scalars(select(AuditEntry).where(AuditEntry.camera_id == camera_id)
                                .order_by(AuditEntry.at, AuditEntry.id)))


# --------------------------------------------------------------------------- decisions


def _current_device(session: Session, camera_id: int) -> CameraDevice | None:
    return session.scalars(
        select(CameraDevice).where(CameraDevice.camera_id == camera_id,
                                   CameraDevice.removed_on.is_(None))
        .order_by(CameraDevice.id.desc())
    ).first()


def _next_review(data: DecisionCreate, interval_days: int) -> date:
    return data.next_review_due or data.meeting_date + timedelta(days=interval_days)


def record_decision(
    session: Session,
    *,
    camera_id: int,
    data: DecisionCreate,
    expected_version: int | None,
    actor: str,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
) -> Decision:
    """Record an SEG decision and apply it to the camera as a lifecycle change (If-Match)."""
    camera = get_camera(session, camera_id=camera_id, lock=True)
    check_version(camera, expected_version)
    allowed_from = lc.DECISION_FROM[data.decision]
    if camera.lifecycle not in allowed_from:
        raise Conflict(
            f"Decision {data.decision} is not possible for a camera that is {camera.lifecycle}; "
            f"it needs one of: {', '.join(allowed_from)}",
            extra={"allowed": list(allowed_from), "current": camera.lifecycle},
        )
    before = audit.snapshot(camera)
    details = _APPLY[data.decision](session, camera, data, review_interval_days)
    if data.dpia_ref:
        camera.dpia_ref = data.dpia_ref
    decision = Decision(
        camera_id=camera.id, decision=data.decision, meeting_date=data.meeting_date,
        minute_ref=data.minute_ref, reason=data.reason, dpia_ref=data.dpia_ref,
        lifecycle_before=before["lifecycle"], lifecycle_after=camera.lifecycle,
        details=details, recorded_by=actor,
    )
    session.add(decision)
    session.flush()
    audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                 action=f"decision:{data.decision}", actor=actor, before=before,
                 after=audit.snapshot(camera), reason=f"{data.minute_ref}: {data.reason}")
    _commit(session)
    return decision


def _retain(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    target = "under_review" if d.keep_under_review else "active"
    if c.lifecycle != target:
        _to(c, target, d, days)
    c.next_review_due = _next_review(d, days)
    return {"next_review_due": c.next_review_due.isoformat()}


def _to(c: Camera, target: str, d: DecisionCreate, days: int) -> None:
    _apply_lifecycle(c, target, today=d.meeting_date, review_interval_days=days)


def _make_permanent(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.deployment != "rapid":
        raise Conflict(f"Camera {c.id} is already a fixed camera", extra={"allowed": []})
    c.deployment = "fixed"
    if c.lifecycle != "active":
        _to(c, "active", d, days)
    c.next_review_due = _next_review(d, days)
    return {"deployment": "fixed", "next_review_due": c.next_review_due.isoformat()}


def _replace(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.technology == "digital":
        raise Conflict(f"Camera {c.id} is already digital", extra={"allowed": []})
    old = _current_device(session, c.id)
    installed = d.installed_on or d.meeting_date
    if old is not None:
        old.removed_on = installed
    new = CameraDevice(camera_id=c.id, technology="digital", installed_on=installed,
                       expected_life_years=d.expected_life_years or c.expected_life_years,
                       replaces_id=old.id if old else None, note=f"SEG {d.minute_ref}")
    session.add(new)
    session.flush()
    c.technology, c.installed_on = "digital", installed
    c.expected_life_years = new.expected_life_years
    if c.lifecycle != "active":
        _to(c, "active", d, days)
    c.next_review_due = _next_review(d, days)
    return {"old_device_id": old.id if old else None, "new_device_id": new.id,
            "installed_on": installed.isoformat()}


def _relocate(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    assert d.lon is not None and d.lat is not None  # checked by DecisionCreate
    current = session.scalars(select(CameraPosition).where(
        CameraPosition.camera_id == c.id, CameraPosition.valid_to.is_(None))).first()
    if current is not None:
        current.valid_to = d.meeting_date
    if d.bearing_deg is not None:
        c.bearing_deg = d.bearing_deg
    _place(c, d.lon, d.lat)
    session.add(CameraPosition(camera_id=c.id, geom=c.geom, bearing_deg=c.bearing_deg,
                               valid_from=d.meeting_date, reason=f"SEG {d.minute_ref}"))
    if c.lifecycle != "active":
        _to(c, "active", d, days)
    c.next_review_due = _next_review(d, days)
    return {"lon": d.lon, "lat": d.lat, "previous_position_id": current.id if current else None}


def _decommission(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    _to(c, "decommissioning", d, days)
    c.next_review_due = None
    return {}


def _withdraw(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.deployment != "rapid":
        raise Conflict(f"Only rapid-deployment cameras can be withdrawn to store; camera {c.id} "
                       "is fixed (decommission it instead)", extra={"allowed": ["decommission"]})
    _to(c, "in_store", d, days)
    c.next_review_due = None
    return {}


_APPLY: dict[str, Callable[[Session, Camera, DecisionCreate, int], dict[str, Any]]] = {
    "retain": _retain,
    "make_permanent": _make_permanent,
    "replace_with_digital": _replace,
    "relocate": _relocate,
    "decommission": _decommission,
    "withdraw": _withdraw,
}


def list_decisions(session: Session, *, camera_id: int) -> list[Decision]:
    """Decisions recorded for a camera, oldest first."""
    get_camera(session, camera_id=camera_id)
    return list(session.scalars(select(Decision).where(Decision.camera_id == camera_id)
                                .order_by(Decision.meeting_date, Decision.id)))


# --------------------------------------------------------------------------- reviews


@dataclass(frozen=True)
class ReviewDue:
    """A camera with a review due (or overdue) at ``today``."""

    camera: Camera
    overdue: bool
    days_until_due: int


def reviews_due(
    session: Session, *, within_days: int = 30, today: date | None = None
) -> list[ReviewDue]:
    """In-service cameras whose next review falls within ``within_days`` (overdue first)."""
    today = today or now_utc().date()
    try:
        horizon = today + timedelta(days=within_days)
    except OverflowError:
        raise InvalidInput(f"{today} plus {within_days} days is past the calendar's end") from None
    rows = session.scalars(
        select(Camera).where(Camera.lifecycle.in_(lc.IN_SERVICE),
                             Camera.next_review_due.is_not(None),
                             Camera.next_review_due <= horizon)
        .order_by(Camera.next_review_due, Camera.id)
    ).all()
    out = []
    for c in rows:
        assert c.next_review_due is not None
        days = (c.next_review_due - today).days
        out.append(ReviewDue(c, days < 0, days))
    return out


# --------------------------------------------------------------------------- faults


def next_fault_number(session: Session, *, year: int) -> str:
    """A new fault number F-YYYY-NNNNNN from the database sequence (unique under concurrency)."""
    n = session.execute(text("SELECT nextval('assets.fault_number_seq')")).scalar_one()
    return f"F-{year}-{int(n):06d}"


def get_fault(session: Session, *, fault_id: int) -> Fault:
    """A fault by id; NotFound if absent."""
    fault = session.get(Fault, fault_id)
    if fault is None:
        raise NotFound(f"No fault with id {fault_id}")
    return fault


def fault_events(session: Session, *, fault_id: int) -> list[FaultEvent]:
    """A fault's status history, oldest first."""
    return list(session.scalars(select(FaultEvent).where(FaultEvent.fault_id == fault_id)
                                .order_by(FaultEvent.at, FaultEvent.id)))


def fault_events_for(session: Session, *, fault_ids: Iterable[int]) -> dict[int, list[FaultEvent]]:
    """Status histories of several faults, keyed by fault id."""
    ids = list(fault_ids)
    out: dict[int, list[FaultEvent]] = {i: [] for i in ids}
    if ids:
        for e in session.scalars(select(FaultEvent).where(FaultEvent.fault_id.in_(ids))
                                 .order_by(FaultEvent.at, FaultEvent.id)):
            out[e.fault_id].append(e)
    return out


def list_faults(
    session: Session,
    *,
    camera_id: int | None = None,
    status: str | Sequence[str] | None = None,
    open_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Fault], int]:
    """Faults, newest first, with the total count."""
    stmt = select(Fault)
    if camera_id is not None:
        stmt = stmt.where(Fault.camera_id == camera_id)
    if isinstance(status, str):
        stmt = stmt.where(Fault.status == status)
    elif status:
        stmt = stmt.where(Fault.status.in_(list(status)))
    if open_only:
        stmt = stmt.where(Fault.status.in_(lc.OPEN_STATUSES))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Fault.reported_at.desc(), Fault.id.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), int(total)


def _refresh_health(session: Session, camera: Camera, *, actor: str, reason: str) -> None:
    """Set health from open faults; an actual change is audited."""
    session.flush()
    cats = session.scalars(select(Fault.category).where(
        Fault.camera_id == camera.id, Fault.status.in_(lc.OPEN_STATUSES))).all()
    health = lc.health_for(cats)
    if health != camera.health:
        before = audit.snapshot(camera)
        camera.health = health
        session.flush()
        audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                     action="health", actor=actor, before=before, after=audit.snapshot(camera),
                     reason=reason)


def log_fault(
    session: Session,
    *,
    camera_id: int,
    category: str,
    description: str,
    reported_at: datetime | None = None,
    actor: str,
    source: str = "api",
) -> Fault:
    """Log a fault (status open), number it, and update the camera's health."""
    fault, _ = log_fault_once(session, camera_id=camera_id, category=category,
                              description=description, reported_at=reported_at, actor=actor,
                              source=source, idempotency_key=None)
    return fault


def log_fault_once(
    session: Session,
    *,
    camera_id: int,
    category: str,
    description: str,
    reported_at: datetime | None = None,
    actor: str,
    caller: int | str | None = None,
    source: str = "api",
    idempotency_key: str | None,
) -> tuple[Fault, bool]:
    """Log a fault unless this caller's key already logged it: (fault, whether it is new).

    ``caller`` scopes the key (the token id; ``actor`` when absent). A repeat of a committed
    request is answered from a plain read, without the camera's lock; a repeat racing its first
    request waits for the lock at most ``LOCK_WAIT_MS`` (then 409, retry) and releases it at once.
    """
    if category not in lc.FAULT_CATEGORIES:
        raise InvalidInput(f"Unknown fault category {category!r}; use one of "
                           + ", ".join(lc.FAULT_CATEGORIES))
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(Fault).where(Fault.idempotency_key == key)
    same: dict[str, Any] = {"camera_id": camera_id, "category": category,
                            "description": description}
    if reported_at:
        # A repeat without a time matches any: the first may have left it out too.
        same["reported_at"] = aware(reported_at)
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "fault")), False
    # The lock serialises faults on one camera, so a retry racing its first request waits here
    # and then finds the fault it made.
    busy = (f"A request with this Idempotency-Key is in progress on camera {camera_id}; retry"
            if key else f"Camera {camera_id} is busy with another change; retry")
    with bounded_wait(session, busy):
        camera = get_camera(session, camera_id=camera_id, lock=True)
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "fault")), False
    if camera.lifecycle in ("decommissioned", "rejected", "proposed"):
        raise Conflict(f"Camera {camera_id} is {camera.lifecycle}; faults cannot be logged on it")
    now = now_utc()
    at = aware(reported_at) if reported_at else now
    check_fault_time(camera, at, now=now)
    fault = Fault(number=next_fault_number(session, year=at.year), camera_id=camera_id,
                  category=category, description=description, status="open", reported_at=at,
                  reported_by=actor, source=source, idempotency_key=key)
    with bounded_wait(session, busy):
        inserted = insert_once(session, fault, "uq_faults_idempotency_key")
    if not inserted:
        # The same key on another camera (not serialised by our lock) got there first.
        return release(session, replay(session.scalars(by_key).one(), same, "fault")), False
    session.add(FaultEvent(fault_id=fault.id, from_status=None, to_status="open", at=at,
                           actor=actor, note=description))
    audit.record(session, camera_id=camera_id, entity="fault", entity_id=fault.id,
                 action="fault_logged", actor=actor, before=None,
                 after={"number": fault.number, "category": category, "status": "open",
                        "reported_at": at.isoformat()}, reason=description)
    _refresh_health(session, camera, actor=actor, reason=f"fault {fault.number} logged")
    _commit(session)
    return fault, True


def fault_window(camera: Camera, now: datetime) -> tuple[datetime, datetime]:
    """When a fault on ``camera`` can have been reported: from its install date (or
    ``FAULT_EARLIEST``, whichever is later) to ``FAULT_CLOCK_SLACK`` past ``now``.

    An install date in the future (a planned date typed early) does not close the window.
    """
    floor = FAULT_EARLIEST
    if camera.installed_on is not None and FAULT_EARLIEST < camera.installed_on <= now.date():
        floor = camera.installed_on
    return datetime.combine(floor, datetime.min.time(), UTC), now + FAULT_CLOCK_SLACK


def check_fault_time(camera: Camera, at: datetime, *, now: datetime, what: str = "reported_at"
                     ) -> None:
    """422 naming the window when ``at`` is outside ``fault_window`` (a 1900 fault was taken)."""
    start, end = fault_window(camera, now)
    since = ("the camera's install date" if start.date() != FAULT_EARLIEST
             else "the register's earliest date")
    window = (f"between {start.date().isoformat()} ({since}) and now (up to "
              f"{int(FAULT_CLOCK_SLACK.total_seconds() // 60)} minutes ahead for clock drift)")
    extra = {"window": {"from": start.isoformat(), "to": end.isoformat()}}
    if at > end:
        raise InvalidInput(f"A fault cannot be reported in the future: {what} must lie {window}",
                           extra=extra)
    if at < start:
        raise InvalidInput(f"{what} {at.isoformat()} is too early: it must lie {window}",
                           extra=extra)


def update_fault_status(
    session: Session,
    *,
    fault_id: int,
    status: str,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
    expected_changes: int | None = None,
) -> Fault:
    """Move a fault along open -> in_progress -> fixed/closed; the camera's health follows.

    ``expected_changes`` (from If-Match): the number of status events the caller saw; another
    number means the fault moved since it was read (412).
    """
    fault = get_fault(session, fault_id=fault_id)
    camera = get_camera(session, camera_id=fault.camera_id, lock=True)
    session.refresh(fault, with_for_update=True)
    if expected_changes is not None:
        changes = session.scalar(
            select(func.count()).select_from(FaultEvent).where(FaultEvent.fault_id == fault.id)
        )
        if expected_changes != changes:
            raise PreconditionFailed(
                f"Fault {fault.number} changed since you read it (it is now {fault.status}); "
                "fetch it again and retry",
                extra={"current": fault.status},
            )
    allowed = lc.FAULT_TRANSITIONS.get(fault.status, ())
    if status not in allowed:
        raise Conflict(
            f"Fault {fault.number} cannot go from {fault.status} to {status}; allowed next "
            f"states: {lc.shown_allowed(list(allowed))}",
            extra={"allowed": list(allowed), "current": fault.status},
        )
    now = now_utc()
    when = aware(at) if at else now
    if when < fault.reported_at:
        raise InvalidInput("A status change cannot precede the fault report")
    if when > now + FAULT_CLOCK_SLACK:
        raise InvalidInput("A status change cannot be in the future (more than "
                           f"{int(FAULT_CLOCK_SLACK.total_seconds() // 60)} minutes ahead)")
    before = fault.status
    fault.status = status
    if status in ("fixed", "closed") and fault.resolved_at is None:
        fault.resolved_at = when
    elif status in lc.OPEN_STATUSES:
        fault.resolved_at = None
    session.add(FaultEvent(fault_id=fault.id, from_status=before, to_status=status, at=when,
                           actor=actor, note=note))
    audit.record(session, camera_id=camera.id, entity="fault", entity_id=fault.id,
                 action="fault_status", actor=actor, before={"status": before},
                 after={"status": status, "at": when.isoformat()}, reason=note)
    _refresh_health(session, camera, actor=actor, reason=f"fault {fault.number} {status}")
    _commit(session)
    return fault


@dataclass(frozen=True)
class Availability:
    """Downtime (no picture) and degraded time of one camera over [start, end)."""

    camera_id: int
    start: datetime
    end: datetime
    downtime_hours: float
    degraded_hours: float
    availability: float


def _fault_intervals(
    faults: Iterable[Fault], end: datetime, *, no_picture_only: bool
) -> list[tuple[datetime, datetime]]:
    return [
        (f.reported_at, f.resolved_at or end)
        for f in faults
        if not no_picture_only or f.category in lc.NO_PICTURE_CATEGORIES
    ]


def availability_from_faults(
    camera_id: int, faults: Sequence[Fault], start: datetime, end: datetime, now: datetime
) -> Availability:
    """Downtime from fault intervals (overlaps merged); open faults run to ``now``."""
    horizon = min(end, now) if end > now else end
    down = lc.covered_seconds(_fault_intervals(faults, horizon, no_picture_only=True), start, end)
    degr = lc.covered_seconds(_fault_intervals(faults, horizon, no_picture_only=False), start, end)
    period = (end - start).total_seconds()
    return Availability(camera_id, start, end, down / 3600.0, degr / 3600.0,
                        1.0 - down / period if period > 0 else 1.0)


def _faults_overlapping(
    session: Session, camera_ids: Sequence[int] | None, start: datetime, end: datetime
) -> list[Fault]:
    stmt = select(Fault).where(Fault.reported_at < end,
                               or_(Fault.resolved_at.is_(None), Fault.resolved_at > start))
    if camera_ids is not None:
        stmt = stmt.where(Fault.camera_id.in_(list(camera_ids)))
    return list(session.scalars(stmt))


def camera_availability(
    session: Session, *, camera_id: int, start: datetime, end: datetime,
    now: datetime | None = None,
) -> Availability:
    """Downtime and availability of a camera over [start, end)."""
    if aware(end) <= aware(start):
        raise InvalidInput("The period must end after it starts")
    get_camera(session, camera_id=camera_id)
    start, end = aware(start), aware(end)
    faults = _faults_overlapping(session, [camera_id], start, end)
    return availability_from_faults(camera_id, faults, start, end, now or now_utc())


def sla_breaches(
    session: Session, *, now: datetime | None = None, include_resolved: bool = False,
    since: datetime | None = None,
) -> list[Fault]:
    """Faults past their SLA target: open ones now, and (optionally) ones fixed late."""
    now = now or now_utc()
    stmt = select(Fault)
    if not include_resolved:
        stmt = stmt.where(Fault.status.in_(lc.OPEN_STATUSES))
    if since is not None:
        stmt = stmt.where(Fault.reported_at >= aware(since))
    rows = session.scalars(stmt.order_by(Fault.reported_at, Fault.id)).all()
    return [f for f in rows
            if lc.sla_status(f.category, f.reported_at, f.resolved_at, now).breached]


# --------------------------------------------------------------------------- footage


def add_footage_request(
    session: Session,
    *,
    camera_id: int,
    requested_on: date,
    reference: str,
    outcome: str = "pending",
    note: str | None = None,
    actor: str,
    caller: int | str | None = None,
    idempotency_key: str | None = None,
) -> tuple[FootageRequest, bool]:
    """Record a police footage request unless this caller's key already did: (row, is new).

    ``caller`` scopes the key (the token id; ``actor`` when absent).
    """
    get_camera(session, camera_id=camera_id)
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(FootageRequest).where(FootageRequest.idempotency_key == key)
    same = {"camera_id": camera_id, "requested_on": requested_on, "reference": reference,
            "outcome": outcome, "note": note}
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "footage request")), False
    row = FootageRequest(camera_id=camera_id, requested_on=requested_on, reference=reference,
                         outcome=outcome, note=note, recorded_by=actor, idempotency_key=key)
    busy = "A request with this Idempotency-Key is in progress; retry"
    with bounded_wait(session, busy):
        inserted = insert_once(session, row, "uq_footage_requests_idempotency_key")
    if not inserted:
        # A concurrent retry with the same key got there first.
        return release(session, replay(session.scalars(by_key).one(), same,
                                       "footage request")), False
    audit.record(session, camera_id=camera_id, entity="footage_request", entity_id=row.id,
                 action="footage_request", actor=actor, before=None,
                 after={"requested_on": requested_on.isoformat(), "reference": reference,
                        "outcome": outcome}, reason=note)
    _commit(session)
    return row, True


def list_footage_requests(session: Session, *, camera_id: int) -> list[FootageRequest]:
    """Footage requests for a camera, newest first."""
    get_camera(session, camera_id=camera_id)
    return list(session.scalars(select(FootageRequest)
                                .where(FootageRequest.camera_id == camera_id)
                                .order_by(FootageRequest.requested_on.desc(),
                                          FootageRequest.id.desc())))


# --------------------------------------------------------------------------- recommendations


def thresholds_from(settings: AssetsSettings) -> Thresholds:
    """Rule thresholds from the service settings."""
    return Thresholds(
        min_incidents=settings.recommend_min_incidents,
        min_footage_requests=settings.recommend_min_footage_requests,
        max_downtime_share=settings.recommend_max_downtime_share,
        max_faults=settings.recommend_max_faults,
        overlap_share=settings.recommend_overlap_share,
    )


def gather_evidence(
    session: Session, *, start: datetime, end: datetime, camera_ids: Sequence[int] | None = None,
) -> tuple[list[Evidence], list[tuple[int, int, float]]]:
    """Per in-service camera evidence over [start, end) and overlapping view pairs."""
    cams_stmt = select(Camera).where(Camera.lifecycle.in_(lc.IN_SERVICE))
    if camera_ids is not None:
        cams_stmt = cams_stmt.where(Camera.id.in_(list(camera_ids)))
    cams = list(session.scalars(cams_stmt.order_by(Camera.id)))
    ids = [c.id for c in cams]
    if not ids:
        return [], []
    area = func.coalesce(Camera.view_geom, func.ST_Buffer(Camera.geom, DEFAULT_VIEW_RADIUS_M))
    incidents = dict(session.execute(
        select(Camera.id, func.count(Incident.id))
        .join(Incident, and_(func.ST_Intersects(Incident.geom, area),
                             Incident.occurred_at >= start, Incident.occurred_at < end))
        .where(Camera.id.in_(ids)).group_by(Camera.id)
    ).tuples().all())
    footage = dict(session.execute(
        select(FootageRequest.camera_id, func.count())
        .where(FootageRequest.camera_id.in_(ids), FootageRequest.requested_on >= start.date(),
               FootageRequest.requested_on < end.date())
        .group_by(FootageRequest.camera_id)
    ).tuples().all())
    fault_rows = _faults_overlapping(session, ids, start, end)
    now = now_utc()
    out = []
    for c in cams:
        mine = [f for f in fault_rows if f.camera_id == c.id]
        av = availability_from_faults(c.id, mine, start, end, now)
        n_faults = sum(1 for f in mine if start <= f.reported_at < end)
        age = (end.date() - c.installed_on).days / 365.25 if c.installed_on else None
        out.append(Evidence(
            camera_id=c.id, asset_tag=c.asset_tag, name=c.name, technology=c.technology,
            deployment=c.deployment, installed_on=c.installed_on,
            expected_life_years=c.expected_life_years,
            age_years=round(age, 2) if age is not None else None,
            incidents=int(incidents.get(c.id, 0)), footage_requests=int(footage.get(c.id, 0)),
            faults=n_faults, downtime_hours=round(av.downtime_hours, 2),
            downtime_share=round(1.0 - av.availability, 4),
        ))
    return out, _overlap_pairs(session, ids)


def _overlap_pairs(session: Session, ids: list[int]) -> list[tuple[int, int, float]]:
    sql = text("""
        SELECT a.id, b.id, ST_Area(a.view_geom), ST_Area(b.view_geom),
               ST_Area(ST_Intersection(a.view_geom, b.view_geom))
        FROM assets.cameras a
        JOIN assets.cameras b ON a.id < b.id AND ST_Intersects(a.view_geom, b.view_geom)
        WHERE a.id = ANY(:ids) AND b.id = ANY(:ids)
    """)
    out = []
    for a, b, area_a, area_b, area_ab in session.execute(sql, {"ids": ids}):
        out.append((int(a), int(b), lc.overlap_share(area_a, area_b, area_ab)))
    return out


def recommendations(
    session: Session,
    *,
    window_days: int,
    settings: AssetsSettings,
    as_of: datetime | None = None,
    camera_ids: Sequence[int] | None = None,
) -> list[Recommendation]:
    """Advice for the SEG over the ``window_days`` before ``as_of``, each with its evidence."""
    if window_days < 1:
        raise InvalidInput("window_days must be at least 1")
    end = aware(as_of) if as_of else now_utc()
    start = end - timedelta(days=window_days)
    evidence, pairs = gather_evidence(session, start=start, end=end, camera_ids=camera_ids)
    by_id = {e.camera_id: e for e in evidence}
    for a, b, share in pairs:
        by_id[a].overlaps.append({"camera_id": b, "share": round(share, 3)})
        by_id[b].overlaps.append({"camera_id": a, "share": round(share, 3)})
    return recommend(evidence, pairs, thresholds_from(settings))
