"""Pydantic I/O of the assets API (WGS84 lon/lat in and out) and builders from ORM rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from geoalchemy2.shape import to_shape
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from shapely.geometry import mapping
from shapely.ops import transform

from services.assets import lifecycle as lc
from services.assets.models import (
    AuditEntry,
    Camera,
    CameraPosition,
    Decision,
    Fault,
    FaultEvent,
    FootageRequest,
)
from shared.geometry import lonlat_in_gb, point_to_wgs84, to_wgs84

Technology = Literal["analogue", "digital"]
Deployment = Literal["fixed", "rapid"]
Lifecycle = Literal[
    "proposed", "approved", "rejected", "active", "under_review", "in_store",
    "decommissioning", "decommissioned",
]
Health = Literal["online", "degraded", "offline"]
FaultCategory = Literal[
    "no_picture", "intermittent_picture", "cabling", "power", "network", "vandalism",
    "pan_tilt_zoom", "other",
]
FaultStatus = Literal["open", "in_progress", "fixed", "closed"]
FootageOutcome = Literal["pending", "provided", "no_relevant_footage", "not_recorded", "refused"]
DecisionKind = Literal[
    "retain", "make_permanent", "replace_with_digital", "relocate", "decommission", "withdraw",
]


# Times the register deals with; outside these years date arithmetic (SLA due times, windows)
# overflows. The incident parsers use the same years.
YEARS = (1900, 2200)
# What pydantic would otherwise take for a time: numbers and digit strings as Unix seconds
# (a fault reported at 123 became F-1970-...). Only ISO 8601 text (or a datetime) is a time.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _in_years(year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"must be between the years {YEARS[0]} and {YEARS[1]}")


def utc_time(dt: datetime) -> datetime:
    """An input time in UTC (naive stays naive), within ``YEARS``.

    PostgreSQL refuses UTC offsets beyond +-15:59 that ISO 8601 (and Python) allow.
    """
    _in_years(dt.year)
    return dt.astimezone(UTC) if dt.tzinfo is not None else dt


def iso_datetime_input(value: Any) -> Any:
    """Let through a datetime or ISO 8601 date-time text; refuse numbers and bare digits."""
    if isinstance(value, datetime) or (
        isinstance(value, str) and _ISO_DATETIME.match(value.strip())
    ):
        return value
    raise ValueError("must be an ISO 8601 date-time such as 2024-05-01T09:00:00Z")


def iso_date_input(value: Any) -> Any:
    """Let through a date or ISO 8601 date text (YYYY-MM-DD); refuse numbers and digits."""
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _ISO_DATE.match(value.strip())
    ):
        return value
    raise ValueError("must be an ISO 8601 date such as 2024-05-01")


def _date_in_years(d: date) -> date:
    _in_years(d.year)
    return d


UtcDatetime = Annotated[datetime, BeforeValidator(iso_datetime_input), AfterValidator(utc_time)]
IsoDate = Annotated[date, BeforeValidator(iso_date_input), AfterValidator(_date_in_years)]
# JSON true is not 1, "1.5" is not a number and NaN/inf are not coordinates.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]


def has_visible_text(value: str) -> bool:
    """True when ``value`` holds a character that shows: not only spaces or format characters
    (zero-width space, BOM, word joiner), which strip_whitespace leaves in place."""
    return any(ch.isprintable() and not ch.isspace() for ch in value)


# Optional in a PATCH, never empty in the register (a null name was a NOT NULL violation, 500).
_NOT_NULL = frozenset({"name"})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_blank_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Blank text is refused where a value is required and stored as None where optional."""
        name = str(info.field_name)
        if value is None and name in _NOT_NULL:
            raise ValueError("must not be null")
        if not isinstance(value, str) or has_visible_text(value):
            return value
        field = cls.model_fields[name]
        if field.is_required() or field.default is not None or name in _NOT_NULL:
            raise ValueError("must not be blank")
        return None


class Position(_In):
    """A WGS84 point inside Great Britain."""

    lon: Number = Field(ge=-180, le=180, description="Longitude, WGS84 degrees")
    lat: Number = Field(ge=-90, le=90, description="Latitude, WGS84 degrees")

    @model_validator(mode="after")
    def _in_gb(self) -> Position:
        if not lonlat_in_gb(self.lon, self.lat):
            raise ValueError("position is outside Great Britain (are lon and lat swapped?)")
        return self


class CameraCreate(Position):
    """A new camera for the register (admin)."""

    name: str = Field(min_length=1, max_length=200)
    technology: Technology
    deployment: Deployment
    asset_tag: str | None = Field(None, min_length=1, max_length=60,
                                  description="Unique tag; generated when omitted")
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
    lifecycle: Literal["proposed", "approved", "active"] = "active"
    reason: str | None = Field(None, max_length=2000, description="Why (kept in the audit trail)")


class CameraPatch(_In):
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
        if self.lon is not None and self.lat is not None and not lonlat_in_gb(self.lon, self.lat):
            raise ValueError("position is outside Great Britain (are lon and lat swapped?)")
        return self


class TransitionIn(_In):
    """A lifecycle transition other than a decision (admin, If-Match)."""

    to: Lifecycle
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
    technology: Technology
    deployment: Deployment


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
    lifecycle: Lifecycle
    health: Health
    next_review_due: date | None
    allowed_transitions: list[str]
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class CameraPage(BaseModel):
    """One page of cameras."""

    items: list[CameraRead] | list[CameraPublic]
    total: int
    limit: int
    offset: int


class FaultCreate(_In):
    """A fault report (operator)."""

    category: FaultCategory
    description: str = Field(min_length=1, max_length=4000)
    reported_at: UtcDatetime | None = Field(None, description="Defaults to now")


class FaultPatch(_In):
    """A fault status change (operator)."""

    status: FaultStatus
    note: str | None = Field(None, max_length=4000)
    at: UtcDatetime | None = Field(None, description="When it happened; defaults to now")


class FaultEventRead(BaseModel):
    """One step in a fault's history."""

    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    note: str | None


class SlaRead(BaseModel):
    """A fault's SLA target and whether it is (or was) breached."""

    target_hours: float
    elapsed_hours: float
    due_at: datetime
    breached: bool


class FaultRead(BaseModel):
    """A fault with its SLA and history."""

    id: int
    number: str
    camera_id: int
    category: FaultCategory
    description: str
    status: FaultStatus
    reported_at: datetime
    resolved_at: datetime | None
    reported_by: str
    source: str
    sla: SlaRead
    events: list[FaultEventRead]


class FaultPage(BaseModel):
    """One page of faults."""

    items: list[FaultRead]
    total: int
    limit: int
    offset: int


class FootageCreate(_In):
    """A police footage request (operator)."""

    requested_on: IsoDate
    reference: str = Field(min_length=1, max_length=120)
    outcome: FootageOutcome = "pending"
    note: str | None = Field(None, max_length=4000)


class FootageRead(BaseModel):
    """A recorded footage request."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    requested_on: date
    reference: str
    outcome: str
    note: str | None
    recorded_by: str


class DecisionCreate(_In):
    """An SEG decision (seg, If-Match); fields beyond the minute depend on the decision."""

    decision: DecisionKind
    meeting_date: IsoDate
    minute_ref: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=4000)
    dpia_ref: str | None = Field(None, max_length=120)
    lon: Number | None = Field(None, ge=-180, le=180, description="relocate: new position")
    lat: Number | None = Field(None, ge=-90, le=90, description="relocate: new position")
    bearing_deg: Number | None = Field(None, ge=0, lt=360, description="relocate: new bearing")
    installed_on: IsoDate | None = Field(None, description="replace: install date of the new unit")
    expected_life_years: Integer | None = Field(None, ge=1, le=50, description="replace: new unit")
    keep_under_review: Flag = Field(False, description="retain: stay under review")
    next_review_due: IsoDate | None = Field(None, description="Overrides the default interval")

    @model_validator(mode="after")
    def _relocate_needs_position(self) -> DecisionCreate:
        if self.decision == "relocate" and (self.lon is None or self.lat is None):
            raise ValueError("relocate needs the new lon and lat")
        if self.lon is not None and self.lat is not None and not lonlat_in_gb(self.lon, self.lat):
            raise ValueError("position is outside Great Britain (are lon and lat swapped?)")
        return self


class DecisionRead(BaseModel):
    """A recorded decision and the lifecycle change it made."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    decision: str
    meeting_date: date
    minute_ref: str
    reason: str
    dpia_ref: str | None
    lifecycle_before: str
    lifecycle_after: str
    details: dict[str, Any]
    recorded_by: str
    created_at: datetime | None


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


class ReviewDueRead(BaseModel):
    """A camera whose review is due within the window, or overdue."""

    camera_id: int
    asset_tag: str
    name: str
    lifecycle: str
    next_review_due: date
    overdue: bool
    days_until_due: int


class RecommendationRead(BaseModel):
    """Advice for the SEG with the evidence that triggered it."""

    camera_id: int
    action: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    related_camera_id: int | None


class RecommendationsRead(BaseModel):
    """All recommendations over a window."""

    window_start: datetime
    window_end: datetime
    items: list[RecommendationRead]


class AvailabilityRead(BaseModel):
    """Downtime and availability of one camera over a period (overlapping faults merged)."""

    camera_id: int
    start: datetime
    end: datetime
    downtime_hours: float
    degraded_hours: float
    availability: float


class SlaBreachRead(BaseModel):
    """A fault past its SLA target."""

    fault: FaultRead
    camera_name: str


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


def camera_lonlat(camera: Camera) -> tuple[float, float]:
    """The camera's WGS84 (lon, lat)."""
    p = to_shape(camera.geom)
    return point_to_wgs84(p.x, p.y)


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
        id=camera.id, asset_tag=camera.asset_tag, name=camera.name, ward=camera.ward,
        purpose=camera.purpose, lon=round(lon, 6), lat=round(lat, 6),
        technology=camera.technology,  # type: ignore[arg-type]
        deployment=camera.deployment,  # type: ignore[arg-type]
    )


def camera_read(camera: Camera) -> CameraRead:
    """Every field of a camera."""
    pub = camera_public(camera)
    return CameraRead(
        **pub.model_dump(),
        ward_code=camera.ward_code, bearing_deg=camera.bearing_deg, fov_deg=camera.fov_deg,
        range_m=camera.range_m, view=camera_view_geojson(camera),
        installed_on=camera.installed_on, expected_life_years=camera.expected_life_years,
        owner=camera.owner, retention_days=camera.retention_days, dpia_ref=camera.dpia_ref,
        lifecycle=camera.lifecycle,  # type: ignore[arg-type]
        health=camera.health,  # type: ignore[arg-type]
        next_review_due=camera.next_review_due,
        allowed_transitions=list(lc.allowed_next(camera.lifecycle)),
        version=camera.version, created_at=camera.created_at, updated_at=camera.updated_at,
    )


def fault_read(fault: Fault, events: list[FaultEvent], *, now: datetime) -> FaultRead:
    """A fault with its SLA status at ``now`` and its history."""
    s = lc.sla_status(fault.category, fault.reported_at, fault.resolved_at, now)
    return FaultRead(
        id=fault.id, number=fault.number, camera_id=fault.camera_id,
        category=fault.category,  # type: ignore[arg-type]
        description=fault.description,
        status=fault.status,  # type: ignore[arg-type]
        reported_at=fault.reported_at, resolved_at=fault.resolved_at,
        reported_by=fault.reported_by, source=fault.source,
        sla=SlaRead(target_hours=s.target_hours, elapsed_hours=round(s.elapsed_hours, 2),
                    due_at=s.due_at, breached=s.breached),
        events=[
            FaultEventRead(from_status=e.from_status, to_status=e.to_status, at=e.at,
                           actor=e.actor, note=e.note)
            for e in events
        ],
    )


def footage_read(row: FootageRequest) -> FootageRead:
    """A footage request."""
    return FootageRead.model_validate(row)


def decision_read(row: Decision) -> DecisionRead:
    """A decision."""
    return DecisionRead.model_validate(row)


def audit_read(row: AuditEntry) -> AuditRead:
    """An audit entry."""
    return AuditRead.model_validate(row)


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


def position_read(row: CameraPosition) -> PositionRead:
    """A position record in WGS84."""
    p = to_shape(row.geom)
    lon, lat = point_to_wgs84(p.x, p.y)
    return PositionRead(id=row.id, lon=round(lon, 6), lat=round(lat, 6),
                        bearing_deg=row.bearing_deg, valid_from=row.valid_from,
                        valid_to=row.valid_to, reason=row.reason)
