"""Pydantic I/O of the camera routes (WGS84 lon/lat in and out) and builders from ORM rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2.shape import to_shape
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import mapping
from shapely.ops import transform

from services.assets import lifecycle as lc
from services.assets.cameras.schedule import Due
from services.assets.enums import CameraLifecycle
from services.assets.fields import (
    DeploymentName,
    HealthName,
    InputModel,
    Integer,
    IsoDate,
    LifecycleName,
    Number,
    RegisterableName,
    TechnologyName,
    check_in_gb,
)
from services.assets.models import AuditEntry, Camera, CameraPosition
from shared.geometry import point_to_wgs84, to_wgs84
from shared.osgrid import grid_ref


class Position(InputModel):
    """A WGS84 point inside Great Britain."""

    lon: Number = Field(ge=-180, le=180, description="Longitude, WGS84 degrees")
    lat: Number = Field(ge=-90, le=90, description="Latitude, WGS84 degrees")

    @model_validator(mode="after")
    def _in_gb(self) -> Position:
        check_in_gb(self.lon, self.lat)
        return self


class CameraCreate(Position):
    """A new camera for the register (admin)."""

    name: str = Field(min_length=1, max_length=200)
    technology: TechnologyName
    deployment: DeploymentName
    asset_tag: str | None = Field(
        None, min_length=1, max_length=60, description="Unique tag; generated when omitted"
    )
    ward: str | None = Field(None, max_length=120)
    ward_code: str | None = Field(None, max_length=12)
    purpose: str | None = Field(None, max_length=400)
    bearing_deg: Number | None = Field(None, ge=0, lt=360, description="Clockwise from north")
    fov_deg: Number | None = Field(None, gt=0, le=360, description="Field-of-view angle")
    range_m: Number | None = Field(None, gt=0, le=2000, description="Useful viewing range")
    installed_on: IsoDate | None = None
    expected_life_years: Integer | None = Field(None, ge=1, le=50)
    owner: str | None = Field(None, max_length=200)
    retention_days: Integer | None = Field(None, ge=1, le=3650)
    dpia_ref: str | None = Field(None, max_length=120)
    lifecycle: RegisterableName = CameraLifecycle.ACTIVE.value
    reason: str | None = Field(None, max_length=2000, description="Why (kept in the audit trail)")


class CameraPatch(InputModel):
    """Register corrections (admin, If-Match). Lifecycle moves go through transitions/decisions."""

    name: str | None = Field(None, min_length=1, max_length=200)
    ward: str | None = Field(None, max_length=120)
    ward_code: str | None = Field(None, max_length=12)
    purpose: str | None = Field(None, max_length=400)
    lon: Number | None = Field(None, ge=-180, le=180)
    lat: Number | None = Field(None, ge=-90, le=90)
    bearing_deg: Number | None = Field(None, ge=0, lt=360)
    fov_deg: Number | None = Field(None, gt=0, le=360)
    range_m: Number | None = Field(None, gt=0, le=2000)
    installed_on: IsoDate | None = None
    expected_life_years: Integer | None = Field(None, ge=1, le=50)
    owner: str | None = Field(None, max_length=200)
    retention_days: Integer | None = Field(None, ge=1, le=3650)
    dpia_ref: str | None = Field(None, max_length=120)
    next_review_due: IsoDate | None = None
    reason: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _both_or_neither(self) -> CameraPatch:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give lon and lat together")
        check_in_gb(self.lon, self.lat)
        return self


class TransitionIn(InputModel):
    """A lifecycle transition other than a decision (admin, If-Match)."""

    to: LifecycleName
    reason: str = Field(min_length=1, max_length=2000)


class CameraPublic(BaseModel):
    """What anyone may see: where a camera is and what it is for."""

    id: int
    asset_tag: str
    name: str
    ward: str | None
    purpose: str | None
    lon: float
    lat: float
    grid_ref: str | None = Field(
        None, description="Ordnance Survey grid reference of the position, e.g. TQ 7581 6823"
    )
    technology: TechnologyName
    deployment: DeploymentName


class CameraRead(CameraPublic):
    """The full register entry (any role)."""

    ward_code: str | None
    bearing_deg: float | None
    fov_deg: float | None
    range_m: float | None
    view: dict[str, Any] | None = Field(description="View polygon, GeoJSON in WGS84")
    installed_on: date | None
    expected_life_years: int | None
    owner: str | None
    retention_days: int | None
    dpia_ref: str | None
    lifecycle: LifecycleName
    health: HealthName
    next_review_due: date | None
    allowed_transitions: list[str]
    allowed_decisions: list[str] = Field(
        default_factory=list, description="SEG decisions this camera can take now"
    )
    scheduled_changes: list[ScheduledChange] = Field(
        default_factory=list,
        description="Decisions waiting for their day (the fields above are today's facts)",
    )
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class ScheduledChange(BaseModel):
    """A decision waiting for its day: the register keeps today's facts until then (its minute
    is for SEG and analysts: ``GET /cameras/{id}/decisions``)."""

    decision_id: int
    decision: str
    effective_on: date
    due: str = Field(description='What is due, e.g. "replace with digital on 2027-01-15"')


class CameraPage(BaseModel):
    """One page of cameras."""

    items: list[CameraRead] | list[CameraPublic]
    total: int
    limit: int
    offset: int


class DeviceRead(BaseModel):
    """A physical unit that stood at a camera position; ``replaces_id`` links it to its
    predecessor."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    technology: str
    installed_on: date | None
    expected_life_years: int | None
    removed_on: date | None
    replaces_id: int | None
    note: str | None


class PositionRead(BaseModel):
    """A past or current position of a camera (WGS84)."""

    id: int
    lon: float
    lat: float
    bearing_deg: float | None
    valid_from: date | None
    valid_to: date | None
    reason: str | None


class AuditRead(BaseModel):
    """One audit entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int | None
    entity: str
    entity_id: int
    action: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


class ImportRowError(BaseModel):
    """A row the import could not place: its line, why, and the field and limit when one applies."""

    line: int
    reason: str
    field: str | None = None
    limit: int | None = None


class ImportReport(BaseModel):
    """What an import did."""

    import_id: int
    rows_read: int
    added: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[ImportRowError]
    warnings: list[str] = Field(default_factory=list, description="About the whole file")


def camera_etag(camera: Camera) -> str:
    """The weak ETag of a camera's current version."""
    return f'W/"{camera.version}"'


def camera_lonlat(camera: Camera) -> tuple[float, float]:
    """The camera's WGS84 (lon, lat)."""
    p = to_shape(camera.geom)
    return point_to_wgs84(p.x, p.y)


def camera_grid_ref(camera: Camera) -> str | None:
    """The camera's Ordnance Survey grid reference (8 figures: ``TQ 7581 6823``)."""
    p = to_shape(camera.geom)
    return grid_ref(p.x, p.y)


def camera_view_geojson(camera: Camera) -> dict[str, Any] | None:
    """The view polygon as a GeoJSON geometry in WGS84, or None."""
    if camera.view_geom is None:
        return None

    def _fwd(x: Any, y: Any, z: Any = None) -> Any:
        return to_wgs84(x, y)

    return dict(mapping(transform(_fwd, to_shape(camera.view_geom))))


def camera_public(camera: Camera) -> CameraPublic:
    """Public fields of a camera."""
    lon, lat = camera_lonlat(camera)
    return CameraPublic(
        id=camera.id,
        asset_tag=camera.asset_tag,
        name=camera.name,
        ward=camera.ward,
        purpose=camera.purpose,
        lon=round(lon, 6),
        lat=round(lat, 6),
        grid_ref=camera_grid_ref(camera),
        technology=camera.technology,
        deployment=camera.deployment,
    )


def camera_read(camera: Camera, due: Due | None = None) -> CameraRead:
    """Every field of a camera; ``due`` is the change scheduled on it, if any."""
    pub = camera_public(camera)
    scheduled = (
        [
            ScheduledChange(
                decision_id=due.decision_id,
                decision=due.decision,
                effective_on=due.effective_on,
                due=due.text,
            )
        ]
        if due
        else []
    )
    return CameraRead(
        **pub.model_dump(),
        ward_code=camera.ward_code,
        bearing_deg=camera.bearing_deg,
        fov_deg=camera.fov_deg,
        range_m=camera.range_m,
        view=camera_view_geojson(camera),
        installed_on=camera.installed_on,
        expected_life_years=camera.expected_life_years,
        owner=camera.owner,
        retention_days=camera.retention_days,
        dpia_ref=camera.dpia_ref,
        lifecycle=camera.lifecycle,
        health=camera.health,
        next_review_due=camera.next_review_due,
        allowed_transitions=list(lc.allowed_next(camera.lifecycle)),
        allowed_decisions=list(
            lc.allowed_decisions(
                lifecycle=camera.lifecycle,
                technology=camera.technology,
                deployment=camera.deployment,
                scheduled=due.decision if due else None,
            )
        ),
        scheduled_changes=scheduled,
        version=camera.version,
        created_at=camera.created_at,
        updated_at=camera.updated_at,
    )


def position_read(row: CameraPosition) -> PositionRead:
    """A position record in WGS84."""
    p = to_shape(row.geom)
    lon, lat = point_to_wgs84(p.x, p.y)
    return PositionRead(
        id=row.id,
        lon=round(lon, 6),
        lat=round(lat, 6),
        bearing_deg=row.bearing_deg,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        reason=row.reason,
    )


def audit_read(row: AuditEntry) -> AuditRead:
    """An audit entry."""
    return AuditRead.model_validate(row)
