"""Camera routes: list, register, import, read, correct and transition cameras; their devices,
positions and audit trail. Camera reads carry ``ETag: W/"<version>"``; writes need If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.assets.cameras import history
from services.assets.cameras import schemas as sc
from services.assets.cameras import service as svc
from services.assets.cameras.schedule import scheduled_for
from services.assets.dependencies import (
    IF_MATCH_RESPONSES,
    Admin,
    BBoxQuery,
    IfMatch,
    ListPage,
    SettingsDep,
    parse_if_match,
)
from services.assets.fields import DeploymentName, HealthName, LifecycleName, TechnologyName
from services.assets.models import Camera
from services.assets.register_import import import_cameras_csv
from shared.auth import AnyRole, MaybePrincipal
from shared.db import SessionDep

router = APIRouter(tags=["cameras"])


@dataclass(frozen=True)
class CameraFilters:
    """The camera list's filters."""

    lifecycle: str | None
    health: str | None
    technology: str | None
    deployment: str | None
    ward: str | None
    q: str | None


def camera_filters(
    lifecycle: LifecycleName | None = None,
    health: HealthName | None = None,
    technology: TechnologyName | None = None,
    deployment: DeploymentName | None = None,
    ward: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> CameraFilters:
    """Dependency: the camera list's filters from the query."""
    return CameraFilters(lifecycle, health, technology, deployment, ward, q)


def _camera_response(
    session: Session, camera: Camera, status: int = 200, **headers: str
) -> JSONResponse:
    due = scheduled_for(session, camera_ids=[camera.id]).get(camera.id)
    body = sc.camera_read(camera, due).model_dump(mode="json")
    return JSONResponse(
        body, status_code=status, headers={"ETag": sc.camera_etag(camera), **headers}
    )


@router.get("/cameras", response_model=sc.CameraPage)
def list_cameras(
    session: SessionDep,
    principal: MaybePrincipal,
    bbox: BBoxQuery,
    filters: Annotated[CameraFilters, Depends(camera_filters)],
    page: ListPage,
) -> sc.CameraPage:
    """Cameras; without a token only public fields of cameras on the street."""
    public = principal is None
    rows, total = svc.list_cameras(
        session,
        bbox=bbox,
        lifecycle=filters.lifecycle,
        health=None if public else filters.health,
        technology=filters.technology,
        deployment=filters.deployment,
        ward=filters.ward,
        q=filters.q,
        public=public,
        limit=page.limit,
        offset=page.offset,
    )
    if public:
        items: list[sc.CameraRead] | list[sc.CameraPublic] = [sc.camera_public(c) for c in rows]
    else:
        due = scheduled_for(session, camera_ids=[c.id for c in rows])
        items = [sc.camera_read(c, due.get(c.id)) for c in rows]
    return sc.CameraPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/cameras",
    status_code=201,
    response_model=sc.CameraRead,
    responses={409: {"description": "Asset tag already registered"}},
)
def create_camera(
    body: sc.CameraCreate, session: SessionDep, who: Admin, settings: SettingsDep
) -> JSONResponse:
    """Register a camera (admin)."""
    camera = svc.create_camera(
        session, data=body, actor=who.actor, review_interval_days=settings.review_interval_days
    )
    return _camera_response(session, camera, 201, Location=f"/cameras/{camera.id}")


@router.post("/cameras/import", response_model=sc.ImportReport)
async def import_cameras(
    session: SessionDep,
    who: Admin,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="CSV: camera_id,location,area_name,area_code,lon,lat")
    ],
) -> sc.ImportReport:
    """Import a register CSV (admin); reports each row it cannot place."""
    content = await file.read()
    result = import_cameras_csv(
        session,
        content=content,
        file_name=file.filename or "upload.csv",
        actor=who.actor,
        review_interval_days=settings.review_interval_days,
    )
    r = result.record
    return sc.ImportReport(
        import_id=r.id,
        rows_read=r.rows_read,
        added=r.rows_added,
        updated=r.rows_updated,
        unchanged=r.rows_unchanged,
        rejected=r.rows_rejected,
        errors=[sc.ImportRowError(**e) for e in result.errors],
        warnings=result.warnings,
    )


@router.get(
    "/cameras/{camera_id}",
    response_model=sc.CameraRead,
    responses={200: {"headers": {"ETag": {"description": 'W/"<version>"'}}}},
)
def get_camera(camera_id: int, session: SessionDep, principal: MaybePrincipal) -> Response:
    """One camera with its ETag; public fields only without a token."""
    if principal is None:
        camera = svc.get_public_camera(session, camera_id=camera_id)
        return JSONResponse(sc.camera_public(camera).model_dump(mode="json"))
    return _camera_response(session, svc.get_camera(session, camera_id=camera_id))


@router.patch("/cameras/{camera_id}", response_model=sc.CameraRead, responses=IF_MATCH_RESPONSES)
def patch_camera(
    camera_id: int,
    body: sc.CameraPatch,
    session: SessionDep,
    who: Admin,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Correct register fields (admin, If-Match)."""
    camera = svc.update_camera(
        session,
        camera_id=camera_id,
        patch=body,
        expected_version=parse_if_match(if_match),
        actor=who.actor,
    )
    return _camera_response(session, camera)


@router.post(
    "/cameras/{camera_id}/transitions",
    response_model=sc.CameraRead,
    responses={
        409: {"description": "Not an allowed transition (see `allowed`)"},
        **IF_MATCH_RESPONSES,
    },
)
def transition_camera(
    camera_id: int,
    body: sc.TransitionIn,
    session: SessionDep,
    who: Admin,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Move a camera to another lifecycle state (admin, If-Match)."""
    camera = svc.transition_camera(
        session,
        camera_id=camera_id,
        to=body.to,
        reason=body.reason,
        expected_version=parse_if_match(if_match),
        actor=who.actor,
        review_interval_days=settings.review_interval_days,
    )
    return _camera_response(session, camera)


@router.get("/cameras/{camera_id}/history", response_model=list[sc.AuditRead])
def camera_history(camera_id: int, session: SessionDep, who: Admin) -> list[sc.AuditRead]:
    """Audit trail of a camera: who, when, before, after, why."""
    return [sc.audit_read(r) for r in history.camera_history(session, camera_id=camera_id)]


@router.get("/cameras/{camera_id}/devices", response_model=list[sc.DeviceRead])
def camera_devices(camera_id: int, session: SessionDep, who: AnyRole) -> list[sc.DeviceRead]:
    """Devices that stood at this camera position (replacements link to their predecessor)."""
    rows = history.camera_devices(session, camera_id=camera_id)
    return [sc.DeviceRead.model_validate(d) for d in rows]


@router.get("/cameras/{camera_id}/positions", response_model=list[sc.PositionRead])
def camera_positions(camera_id: int, session: SessionDep, who: AnyRole) -> list[sc.PositionRead]:
    """Positions this camera has had (relocations)."""
    return [sc.position_read(p) for p in history.camera_positions(session, camera_id=camera_id)]
