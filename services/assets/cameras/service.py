"""Camera use cases: find, list, register, correct and move cameras through their lifecycle.

Keyword-only, session first; each write commits once. Cameras are positions (see ``models``);
every write to a camera writes an audit row in the same transaction. Camera writes lock the row
(``SELECT ... FOR UPDATE``) and the ORM's version column turns each UPDATE into a
compare-and-set, so concurrent writers never lose an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import ColumnElement, false, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.schemas import CameraCreate, CameraPatch
from services.assets.clock import now_utc
from services.assets.enums import CameraHealth, CameraLifecycle
from services.assets.models import Camera, CameraDevice, CameraPosition
from shared.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired
from shared.geometry import point_to_bng
from shared.ogc import clip_bbox

DEFAULT_REVIEW_DAYS = 365


def get_camera(session: Session, *, camera_id: int, lock: bool = False) -> Camera:
    """A camera by id (optionally locked for update); NotFound if absent."""
    if lock:
        # A copy read earlier in this session may be older than the row we are about to lock;
        # expire it so the locked read replaces it instead of failing SQLAlchemy's version check.
        held = session.identity_map.get(session.identity_key(Camera, camera_id))
        if held is not None:
            session.expire(held)
    camera = session.get(Camera, camera_id, with_for_update=lock or None, populate_existing=lock)
    if camera is None:
        raise NotFound(f"No camera with id {camera_id}")
    return camera


def get_public_camera(session: Session, *, camera_id: int) -> Camera:
    """A camera that stands on the street (what anyone may see); NotFound otherwise."""
    camera = get_camera(session, camera_id=camera_id)
    if camera.lifecycle not in lc.PUBLIC_LIFECYCLES:
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


def commit_change(session: Session) -> None:
    """Commit a use case; a camera changed meanwhile by another writer is a 412."""
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
            stmt = stmt.where(*meets_wgs84_box(Camera.geom, clipped))
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
        stmt = stmt.where(
            or_(Camera.name.ilike(like, escape="\\"), Camera.asset_tag.ilike(like, escape="\\"))
        )
    if public:
        stmt = stmt.where(Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Camera.id).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def meets_wgs84_box(geom: Any, box: tuple[float, float, float, float]) -> list[ColumnElement[bool]]:
    """Conditions: the EPSG:27700 ``geom`` meets the WGS84 ``box`` (already clipped to BNG).

    An index test on the box projected densified (its edges curve in BNG), and the exact test
    in WGS84, the CRS the box was given in.
    """
    env = func.ST_MakeEnvelope(*box, 4326)
    return [
        geom.op("&&")(func.ST_Transform(func.ST_Segmentize(env, 0.001), 27700)),
        func.ST_Intersects(func.ST_Transform(geom, 4326), env),
    ]


def contains_pattern(text_: str) -> str:
    """A LIKE pattern matching ``text_`` anywhere, its own % _ and \\ taken literally."""
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def camera_names(session: Session, *, camera_ids: Sequence[int]) -> dict[int, str]:
    """The names of these cameras, by id."""
    if not camera_ids:
        return {}
    rows = session.execute(select(Camera.id, Camera.name).where(Camera.id.in_(list(camera_ids))))
    return dict(rows.tuples().all())


def place(camera: Camera, lon: float, lat: float) -> None:
    """Put ``camera`` at WGS84 ``lon, lat`` (stored in EPSG:27700) and re-derive its view."""
    x, y = point_to_bng(lon, lat)
    camera.geom = from_shape(Point(x, y), srid=27700)
    derive_view(camera, x, y)


def derive_view(camera: Camera, x: float | None = None, y: float | None = None) -> None:
    """The camera's view cone from its point (``x, y`` in EPSG:27700), bearing, fov and range."""
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
    camera = Camera(
        **fields, id=new_id, asset_tag=tag or f"CAM-{new_id:05d}", health=CameraHealth.ONLINE
    )
    place(camera, data.lon, data.lat)
    if camera.lifecycle == CameraLifecycle.ACTIVE:
        camera.next_review_due = today + timedelta(days=review_interval_days)
    session.add(camera)
    session.flush()
    session.add(
        CameraDevice(
            camera_id=camera.id,
            technology=camera.technology,
            installed_on=camera.installed_on,
            expected_life_years=camera.expected_life_years,
        )
    )
    session.add(
        CameraPosition(
            camera_id=camera.id,
            geom=camera.geom,
            bearing_deg=camera.bearing_deg,
            valid_from=camera.installed_on or today,
            reason="registered",
        )
    )
    session.flush()
    audit.camera_change(
        session,
        camera,
        action="create",
        actor=actor,
        before=None,
        reason=data.reason,
    )
    if commit:
        commit_change(session)
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
    if camera.lifecycle in lc.READ_ONLY_LIFECYCLES:
        raise Conflict(
            f"Camera {camera_id} is {camera.lifecycle}; its record is read-only",
            extra={"allowed": []},
        )
    for k, v in values.items():
        setattr(camera, k, v)
    if patch.lon is not None and patch.lat is not None:
        place(camera, patch.lon, patch.lat)
    elif {"bearing_deg", "fov_deg", "range_m"} & values.keys():
        derive_view(camera)
    after = audit.snapshot(camera)
    if after == before:
        return camera
    session.flush()
    audit.camera_change(
        session,
        camera,
        action="update",
        actor=actor,
        before=before,
        after=after,
        reason=patch.reason,
    )
    commit_change(session)
    return camera


def apply_lifecycle(camera: Camera, to: str, *, today: date, review_interval_days: int) -> None:
    """Move to ``to``; commissioning (into active from approved/in store) sets the next review."""
    if not lc.can_transition(camera.lifecycle, to):
        allowed = list(lc.allowed_next(camera.lifecycle))
        raise Conflict(
            f"Camera {camera.id} cannot go from {camera.lifecycle} to {to}; allowed next "
            f"states: {lc.shown_allowed(allowed)}",
            extra={"allowed": allowed, "current": camera.lifecycle},
        )
    if to == CameraLifecycle.ACTIVE and camera.lifecycle in lc.COMMISSIONED_FROM:
        camera.next_review_due = today + timedelta(days=review_interval_days)
    if to in lc.ENDED:
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
    apply_lifecycle(
        camera, to, today=today or now_utc().date(), review_interval_days=review_interval_days
    )
    session.flush()
    audit.camera_change(
        session,
        camera,
        action="transition",
        actor=actor,
        before=before,
        reason=reason,
    )
    commit_change(session)
    return camera


def find_camera(session: Session, *, ref: str) -> Camera | None:
    """The camera named by ``ref``: its asset tag, or its id written in ASCII digits."""
    ref = ref.strip()
    camera = session.scalar(select(Camera).where(Camera.asset_tag == ref))
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses: a 500) and "٣٣"
    # (which int() reads as 33: another camera, silently).
    if camera is None and ref.isascii() and ref.isdigit() and len(ref) < 12:
        camera = session.get(Camera, int(ref))
    return camera


def nearest_in_service(
    session: Session, *, lon: float, lat: float, within_m: float
) -> Camera | None:
    """The in-service camera nearest WGS84 ``lon, lat`` within ``within_m`` metres, if any."""
    here = func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), 27700)
    return session.scalar(
        select(Camera)
        .where(
            Camera.lifecycle.in_(lc.IN_SERVICE),
            func.ST_DWithin(Camera.geom, here, within_m),
        )
        .order_by(func.ST_Distance(Camera.geom, here), Camera.id)
        .limit(1)
    )
