"""Test data through the services' own functions: cameras, faults, incidents, target lists.

Plain functions with keyword arguments and defaults that make a valid record; a test names only
what it cares about. Nothing here inserts rows behind the services' backs, except
``delete_cameras`` (tests that commit clean up; no service deletes a camera).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import SHARED_DATA
from tests.support import GILLINGHAM

if TYPE_CHECKING:
    from services.assets.models import Camera, Fault
    from services.predictive.lists.service import ListView
    from shared.incidents.parsers.results import IncidentRow

# ------------------------------------------------------------------ cameras and faults

# A view cone for cameras whose tests draw or compare views (bearing clockwise from north).
WITH_VIEW: dict[str, Any] = {"bearing_deg": 90.0, "fov_deg": 60.0, "range_m": 80.0}


def camera_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /cameras`` body: a fixed digital camera at Gillingham (``overrides`` win)."""
    return {
        "name": "Test camera",
        "lon": GILLINGHAM[0],
        "lat": GILLINGHAM[1],
        "technology": "digital",
        "deployment": "fixed",
    } | overrides


def post_camera(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """``POST /cameras`` a ``camera_body``; returns the JSON with its ETag under ``_etag``."""
    r = client.post("/cameras", json=camera_body(**overrides), headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    out["_etag"] = r.headers["etag"]
    return out


def make_camera(
    session: Session,
    *,
    actor: str = "test",
    commit: bool = True,
    review_interval_days: int | None = None,
    **overrides: Any,
) -> Camera:
    """Register a ``camera_body`` camera through ``create_camera``; returns the Camera.

    A ``lifecycle`` the register does not take (``in_store``, ``decommissioned`` ...) is
    reached by the shortest run of allowed transitions from one it takes (these commit).
    """
    from services.assets.cameras.schemas import CameraCreate
    from services.assets.cameras.service import create_camera, transition_camera

    path = lifecycle_path(overrides.pop("lifecycle", "active"))
    extra: dict[str, Any] = (
        {} if review_interval_days is None else {"review_interval_days": review_interval_days}
    )
    data = CameraCreate(**camera_body(lifecycle=path[0], **overrides))
    camera = create_camera(session, data=data, actor=actor, commit=commit, **extra)
    for to in path[1:]:
        camera = transition_camera(
            session,
            camera_id=camera.id,
            to=to,
            reason="test set-up",
            expected_version=camera.version,
            actor=actor,
            **extra,
        )
    return camera


def lifecycle_path(target: str) -> list[str]:
    """The shortest run of lifecycles from a registerable one to ``target`` (both included)."""
    from services.assets import lifecycle as lc

    paths = [[str(start)] for start in lc.REGISTERABLE]
    seen = {p[0] for p in paths}
    while paths:
        path = paths.pop(0)
        if path[-1] == target:
            return path
        for nxt in lc.TRANSITIONS[path[-1]]:
            if nxt not in seen:
                seen.add(str(nxt))
                paths.append([*path, str(nxt)])
    raise ValueError(f"no lifecycle path to {target!r}")


def log_fault(session: Session, camera: Camera | int, **overrides: Any) -> Fault:
    """Log an ``other`` fault on ``camera`` (a Camera or its id) through the fault service."""
    from services.assets.faults.service import log_fault as log

    camera_id = camera if isinstance(camera, int) else camera.id
    kw: dict[str, Any] = {"category": "other", "description": "Test fault", "actor": "test"}
    return log(session, camera_id=camera_id, **(kw | overrides))


# Every table with a camera_id, children first.
_CAMERA_TABLES = (
    "faults",
    "footage_requests",
    "decisions",
    "audit_log",
    "camera_devices",
    "camera_positions",
)


def delete_cameras(conn: Any, camera_ids: Sequence[int]) -> None:
    """Delete committed cameras and every row naming them (for tests that really commit)."""
    ids = {"c": list(camera_ids)}
    conn.execute(
        text(
            "DELETE FROM assets.fault_events WHERE fault_id IN "
            "(SELECT id FROM assets.faults WHERE camera_id = ANY(:c))"
        ),
        ids,
    )
    # A decision's effect names its camera and, for a pair decided together, the other one.
    conn.execute(
        text(
            "DELETE FROM assets.decision_effects WHERE camera_id = ANY(:c) "
            "OR related_camera_id = ANY(:c) OR decision_id IN "
            "(SELECT id FROM assets.decisions WHERE camera_id = ANY(:c))"
        ),
        ids,
    )
    for table in _CAMERA_TABLES:
        conn.execute(text(f"DELETE FROM assets.{table} WHERE camera_id = ANY(:c)"), ids)
    conn.execute(text("DELETE FROM assets.cameras WHERE id = ANY(:c)"), ids)


# ------------------------------------------------------------------ boundaries and incidents

WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
LSOAS = SHARED_DATA / "boundaries" / "medway_lsoa_martinjc.geojson"
# Town centres inside Medway (lon, lat): Chatham, Gillingham, Strood, Rainham, Rochester.
CENTRES = [
    (0.5270, 51.3830),
    (0.5490, 51.3880),
    (0.4850, 51.3940),
    (0.6110, 51.3620),
    (0.5040, 51.3880),
]
LIST_DAY = date(2024, 5, 1)


def load_medway(session: Session, *, wards_path: Path = WARDS) -> Session:
    """Load the real Medway wards and outline and create both agencies; returns the session."""
    from services.predictive.agencies import service as agencies

    agencies.load_boundaries(session, wards_path=wards_path, outline_path=LSOAS)
    agencies.ensure_agencies(session)
    session.flush()
    return session


def incident_row(
    *,
    occurred_at: datetime,
    lon: float | None = None,
    lat: float | None = None,
    xy: tuple[float, float] | None = None,
    source: str = "fire",
    source_id: str = "test-1",
    category: str = "deliberate_fire",
    time_precision: str = "exact",
) -> IncidentRow:
    """One incident at WGS84 (lon, lat) or EPSG:27700 ``xy``; the other is projected."""
    from shared.geometry import point_to_bng, point_to_wgs84
    from shared.incidents.parsers.results import IncidentRow

    if xy is None:
        assert lon is not None and lat is not None, "give lon and lat, or xy"
        xy = point_to_bng(lon, lat)
    if lon is None or lat is None:
        lon, lat = point_to_wgs84(*xy)
    x, y = xy
    return IncidentRow(
        source,
        source_id,
        category,
        occurred_at,
        time_precision,
        float(lon),
        float(lat),
        float(x),
        float(y),
        1.0,
        {},
    )


def synthetic_incidents(
    *,
    source: str = "fire",
    categories: Sequence[str] = ("deliberate_fire",),
    month_only: bool = False,
    n_days: int = 150,
    end: date = LIST_DAY,
    seed: int = 7,
) -> list[IncidentRow]:
    """Self-exciting incidents in 40 boxes around Medway's town centres, before ``end``."""
    from services.predictive.compute.simulate import simulate_grid_etas
    from shared.geometry import point_to_bng, to_wgs84
    from shared.incidents.parsers.results import IncidentRow

    rng = np.random.default_rng(seed)
    spots = []
    for c_lon, c_lat in CENTRES:
        x, y = point_to_bng(c_lon, c_lat)
        for _ in range(8):
            spots.append((x + rng.normal(0, 600), y + rng.normal(0, 600)))
    mu = rng.uniform(0.02, 0.12, len(spots))
    t_end = (datetime.combine(end, datetime.min.time(), tzinfo=UTC).timestamp() / 86400) - 0.5
    cells, t = simulate_grid_etas(mu, 0.4, 0.5, t_end, rng, t_start_days=t_end - n_days)
    xs = np.array([spots[c][0] for c in cells]) + rng.uniform(-60, 60, cells.size)
    ys = np.array([spots[c][1] for c in cells]) + rng.uniform(-60, 60, cells.size)
    lon, lat = to_wgs84(xs, ys)
    rows = []
    for i in range(cells.size):
        when = datetime.fromtimestamp(float(t[i]) * 86400, tz=UTC)
        if month_only:
            when = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        rows.append(IncidentRow(
            source, f"syn-{source}-{seed}-{i}", categories[i % len(categories)], when,
            "month" if month_only else "exact", float(lon[i]), float(lat[i]), float(xs[i]),
            float(ys[i]), 1.0, {},
        ))  # fmt: skip
    return rows


def store_incidents(session: Session, rows: Sequence[IncidentRow], *, source: str = "fire") -> None:
    """Store incident rows through the shared incident store, as an import would."""
    from shared.incidents.parsers.results import ParseResult
    from shared.incidents.store import store_result

    result = ParseResult(list(rows), [], "synthetic.csv", len(rows))
    store_result(session, result, source=source, sha256="0" * 64)
    session.flush()


# ------------------------------------------------------------------ target lists


def today() -> date:
    """Today in Medway (the list date a visit logged 'now' may count for)."""
    from services.predictive.dates import today_london

    return today_london()


def make_list(
    session: Session, agency: str = "kfrs", day: date = LIST_DAY, *, force: bool = False
) -> ListView:
    """Store (agency, day)'s list as the nightly job does (GETs only read stored lists)."""
    from services.predictive.lists import service as lists

    view, _ = lists.get_or_create_list(
        session, agency_code=agency, day=day, generated_by="nightly", force=force
    )
    return view
