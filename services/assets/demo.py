"""Demo data from the partnership's minutes: Medway cameras, their faults and footage requests.

Idempotent: cameras are keyed by asset tag and demo incidents by source id, so a second load
adds nothing. SEG decisions are not recorded here; the demo shows the recommendations and
leaves the decisions to the people using it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets.cameras.schemas import CameraCreate
from services.assets.cameras.service import create_camera
from services.assets.clock import now_utc
from services.assets.faults.service import log_fault, update_fault_status
from services.assets.models import Camera
from shared.geometry import point_to_bng
from shared.incidents.models import Incident

ACTOR = "demo loader"
INCIDENT_SOURCE = "assets_demo"


@dataclass(frozen=True)
class DemoCamera:
    """One demo camera (WGS84 position)."""

    tag: str
    name: str
    lon: float
    lat: float
    ward: str
    technology: str
    deployment: str
    bearing_deg: float
    fov_deg: float
    range_m: float
    installed_on: date
    expected_life_years: int
    purpose: str


CAMERAS = (
    DemoCamera(
        "MED-GIL-001",
        "Gillingham High Street",
        0.5466,
        51.3887,
        "Gillingham North",
        "digital",
        "fixed",
        250.0,
        70.0,
        80.0,
        date(2017, 6, 1),
        12,
        "Town centre: night-time economy and shop theft",
    ),
    DemoCamera(
        "MED-ROC-001",
        "Rochester Train Station",
        0.5100,
        51.3855,
        "Rochester West",
        "digital",
        "fixed",
        320.0,
        80.0,
        70.0,
        date(2016, 1, 12),
        12,
        "Station forecourt and approach",
    ),
    DemoCamera(
        "MED-ROC-002",
        "Rochester High Street (Guildhall)",
        0.5050,
        51.3885,
        "Rochester West",
        "digital",
        "fixed",
        110.0,
        70.0,
        80.0,
        date(2015, 5, 20),
        12,
        "High Street: public safety",
    ),
    DemoCamera(
        "MED-ROC-003",
        "Rochester High Street (Eastgate)",
        0.5085,
        51.3878,
        "Rochester West",
        "digital",
        "fixed",
        290.0,
        70.0,
        80.0,
        date(2015, 5, 20),
        12,
        "High Street: public safety",
    ),
    DemoCamera(
        "MED-ROC-004",
        "Rochester Esplanade",
        0.5008,
        51.3893,
        "Rochester West",
        "digital",
        "fixed",
        200.0,
        90.0,
        60.0,
        date(2018, 3, 1),
        12,
        "Riverside path and car park",
    ),
    DemoCamera(
        "MED-CHA-001",
        "Chatham Military Road",
        0.5225,
        51.3832,
        "Chatham Central",
        "digital",
        "fixed",
        30.0,
        70.0,
        80.0,
        date(2019, 9, 1),
        12,
        "Town centre and bus interchange",
    ),
    DemoCamera(
        "MED-RAI-CP1",
        "Rainham Cricketers car park (north)",
        0.60900,
        51.36200,
        "Rainham Central",
        "analogue",
        "fixed",
        160.0,
        60.0,
        50.0,
        date(2009, 3, 2),
        10,
        "Car park: vehicle crime",
    ),
    DemoCamera(
        "MED-RAI-CP2",
        "Rainham Cricketers car park (south)",
        0.60902,
        51.36197,
        "Rainham Central",
        "analogue",
        "fixed",
        160.0,
        60.0,
        50.0,
        date(2009, 9, 14),
        10,
        "Car park: vehicle crime",
    ),
    DemoCamera(
        "MED-RAI-RG1",
        "Rainham Recreation Ground (east)",
        0.61520,
        51.36600,
        "Rainham Central",
        "digital",
        "rapid",
        60.0,
        80.0,
        60.0,
        date(2026, 3, 16),
        7,
        "Anti-social behaviour after a public petition",
    ),
    DemoCamera(
        "MED-RAI-RG2",
        "Rainham Recreation Ground (west)",
        0.61480,
        51.36600,
        "Rainham Central",
        "digital",
        "rapid",
        240.0,
        80.0,
        60.0,
        date(2026, 3, 16),
        7,
        "Anti-social behaviour after a public petition",
    ),
)


def camera_body(c: DemoCamera) -> CameraCreate:
    """The register entry of a demo camera."""
    return CameraCreate(
        asset_tag=c.tag,
        name=c.name,
        lon=c.lon,
        lat=c.lat,
        ward=c.ward,
        technology=c.technology,
        deployment=c.deployment,
        bearing_deg=c.bearing_deg,
        fov_deg=c.fov_deg,
        range_m=c.range_m,
        installed_on=c.installed_on,
        expected_life_years=c.expected_life_years,
        owner="Medway Council",
        retention_days=31,
        dpia_ref="DPIA-MED-CCTV-2024",
        purpose=c.purpose,
        reason="demo register",
    )


def point_ahead(c: DemoCamera, metres: float) -> tuple[float, float]:
    """EPSG:27700 point ``metres`` in front of a demo camera, along its bearing."""
    import math

    x, y = point_to_bng(c.lon, c.lat)
    b = math.radians(c.bearing_deg)
    return x + metres * math.sin(b), y + metres * math.cos(b)


def add_incidents(
    session: Session,
    *,
    camera: DemoCamera,
    count: int,
    category: str,
    days_ago: list[int],
    key: str,
    today: date,
) -> int:
    """Add demo incidents in a camera's view (idempotent by source id); returns how many."""
    existing = set(
        session.scalars(
            select(Incident.source_id).where(
                Incident.source == INCIDENT_SOURCE, Incident.source_id.like(f"{key}-%")
            )
        )
    )
    added = 0
    for i in range(count):
        sid = f"{key}-{i}"
        if sid in existing:
            continue
        x, y = point_ahead(camera, 15.0 + 5.0 * (i % 5))
        when = datetime.combine(
            today - timedelta(days=days_ago[i % len(days_ago)]), datetime.min.time(), tzinfo=UTC
        ) + timedelta(hours=21)
        session.add(
            Incident(
                source=INCIDENT_SOURCE,
                source_id=sid,
                category=category,
                occurred_at=when,
                time_precision="exact",
                geom=from_shape(Point(x, y), srid=27700),
                weight=1.0,
                attributes={"demo": True, "camera": camera.tag},
            )
        )
        added += 1
    session.flush()
    return added


def _at(d: date, hour: int) -> datetime:
    return datetime.combine(d, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


def replay_faults(session: Session, ids: dict[str, int], *, today: date) -> int:
    """The minutes' faults: Gillingham intermittent picture (still open), Rochester station
    cabling and two more Rochester faults, later fixed and back online."""
    reported = today - timedelta(days=40)
    fixed = today - timedelta(days=26)
    log_fault(
        session,
        camera_id=ids["MED-GIL-001"],
        category="intermittent_picture",
        description="Intermittent loss of picture",
        reported_at=_at(reported, 9),
        actor="Control room (demo)",
        source="demo",
    )
    n = 1
    for tag, cat, text in (
        ("MED-ROC-001", "cabling", "Cabling problem outside the station"),
        ("MED-ROC-002", "no_picture", "No picture"),
        ("MED-ROC-003", "network", "Network link down"),
    ):
        f = log_fault(
            session,
            camera_id=ids[tag],
            category=cat,
            description=text,
            reported_at=_at(reported, 10),
            actor="Control room (demo)",
            source="demo",
        )
        update_fault_status(
            session,
            fault_id=f.id,
            status="in_progress",
            actor="Maintenance (demo)",
            at=_at(reported, 15),
            note="Engineer booked",
        )
        update_fault_status(
            session,
            fault_id=f.id,
            status="fixed",
            actor="Maintenance (demo)",
            at=_at(fixed, 12),
            note="Fixed and back online",
        )
        n += 1
    return n


def load_demo(session: Session, *, shared_data: Path, today: date | None = None) -> str:
    """Load the demo cameras, faults and in-view incidents; a second run adds nothing."""
    today = today or now_utc().date()
    tags = [c.tag for c in CAMERAS]
    have = dict(
        session.execute(select(Camera.asset_tag, Camera.id).where(Camera.asset_tag.in_(tags)))
        .tuples()
        .all()
    )
    added = 0
    for c in CAMERAS:
        if c.tag not in have:
            have[c.tag] = create_camera(session, data=camera_body(c), actor=ACTOR).id
            added += 1
    faults = replay_faults(session, have, today=today) if added == len(CAMERAS) else 0
    by_tag = {c.tag: c for c in CAMERAS}
    incidents = 0
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        incidents += add_incidents(
            session,
            camera=by_tag[tag],
            count=4,
            category="Anti-social behaviour",
            days_ago=[12, 33, 47, 61],
            key=tag,
            today=today,
        )
    incidents += add_incidents(
        session,
        camera=by_tag["MED-RAI-CP2"],
        count=5,
        category="Vehicle crime",
        days_ago=[20, 75, 130, 190, 250],
        key="MED-RAI-CP",
        today=today,
    )
    session.commit()
    if not added and not incidents:
        return "demo cameras already loaded; nothing added"
    return f"{added} cameras, {faults} faults, {incidents} in-view incidents added"
