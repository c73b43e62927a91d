"""Camera health routes: set a camera's stream (admins), its reference view (operators), read
its checks, and a fault's snapshots (operators; every image view audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.assets.cameras.service import get_camera
from services.assets.clock import now_utc
from services.assets.dependencies import Admin, FaultReader, Operator, SettingsDep
from services.assets.health import availability as ha
from services.assets.health import faults as hf
from services.assets.health import schemas as sc
from services.assets.health import service as svc
from shared.db import SessionDep

router = APIRouter(tags=["camera health"])
CHECKS_MAX = 500


@router.put("/cameras/{camera_id}/stream", response_model=sc.StreamRead)
def put_stream(
    camera_id: int, body: sc.StreamWrite, session: SessionDep, who: Admin, settings: SettingsDep
) -> sc.StreamRead:
    """Set a digital camera's stream address and credentials (admins; audited)."""
    stream = svc.set_stream(
        session,
        camera_id=camera_id,
        rtsp_url=body.rtsp_url,
        onvif_url=body.onvif_url,
        username=body.username,
        password=body.password,
        keep_password=body.keep_password,
        actor=who.actor,
        reason=body.reason,
        key=settings.health_credentials_key,
        discover_bound_s=settings.health_check_bound_s,
    )
    return sc.stream_read(stream)


@router.post("/cameras/{camera_id}/stream/discover", response_model=sc.StreamRead)
def post_discover(
    camera_id: int, session: SessionDep, who: Admin, settings: SettingsDep
) -> sc.StreamRead:
    """Ask the camera's ONVIF device again for its stream address (admins; audited); a 422
    names what the device did (refused, timed out, authentication failed, no stream)."""
    stream = svc.rediscover(session, camera_id=camera_id, actor=who.actor, settings=settings)
    return sc.stream_read(stream)


@router.get("/cameras/{camera_id}/stream", response_model=sc.StreamRead)
def get_stream(camera_id: int, session: SessionDep, who: Operator) -> sc.StreamRead:
    """A camera's stream and health-check state (operators; no credentials)."""
    return sc.stream_read(svc.get_stream(session, camera_id=camera_id))


@router.post("/cameras/{camera_id}/stream/reference", response_model=sc.StreamRead)
def post_reference(
    camera_id: int, session: SessionDep, who: Operator, settings: SettingsDep
) -> sc.StreamRead:
    """Take a snapshot now and make it the reference view (409 when the picture is bad).

    Repeating it sets the reference again from a newer picture (no record is duplicated).
    """
    stream = svc.set_reference(session, camera_id=camera_id, actor=who.actor, settings=settings)
    return sc.stream_read(stream)


@router.get("/cameras/{camera_id}/health-checks", response_model=list[sc.CheckRead])
def get_checks(
    camera_id: int,
    session: SessionDep,
    who: Operator,
    limit: Annotated[int, Query(ge=1, le=CHECKS_MAX)] = 50,
) -> list[sc.CheckRead]:
    """The camera's latest checks, newest first (at most 500)."""
    svc.get_stream(session, camera_id=camera_id)
    return [sc.check_read(c) for c in svc.latest_checks(session, camera_id=camera_id, limit=limit)]


@router.get("/faults/{fault_id}/snapshots", response_model=list[sc.SnapshotRead])
def get_snapshots(fault_id: int, session: SessionDep, who: Operator) -> list[sc.SnapshotRead]:
    """Snapshots kept as the fault's evidence (operators; the images are audited reads)."""
    return [sc.snapshot_read(s) for s in hf.snapshots_of(session, fault_id=fault_id)]


@router.get(
    "/health-snapshots/{snapshot_id}.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_snapshot_image(snapshot_id: int, session: SessionDep, who: Operator) -> Response:
    """A snapshot (JPEG): personal data, so operators only, never cached, each view audited."""
    image = hf.view_snapshot(session, snapshot_id=snapshot_id, who=who, now=now_utc())
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/availability/monthly", response_model=list[sc.MonthlyAvailability])
def get_monthly_availability(
    session: SessionDep,
    who: FaultReader,
    month: Annotated[str, Query(description="The first month, YYYY-MM (Medway's months)")],
    months: Annotated[int, Query(ge=1, le=ha.MAX_MONTHS)] = 1,
    camera_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[sc.MonthlyAvailability]:
    """Availability per camera per month, from its faults and from its health checks (the
    checks' figures are null for a camera never checked in the month; months not begun yet
    are left out)."""
    if camera_id is not None:
        get_camera(session, camera_id=camera_id)
    rows = ha.monthly(
        session,
        first=ha.parse_month(month),
        months=months,
        camera_id=camera_id,
        now=now_utc(),
    )
    return [sc.monthly_read(r) for r in rows]
