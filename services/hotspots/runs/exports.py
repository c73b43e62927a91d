"""A finished run's hotspots as people download them: the table (CSV) and the polygons as a
GeoPackage, each saying what the run was of (the same tags as its COG)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.hotspots.compute.exports import polygons_gpkg, table_csv
from services.hotspots.compute.tags import surface_tags
from services.hotspots.enums import RunStatus
from services.hotspots.models import HotspotPolygon, SurfaceRun
from services.hotspots.runs.service import get_run
from shared.boundaries.service import ward_for_points
from shared.errors import Conflict
from shared.osgrid import grid_ref

TABLE_COLUMNS = (
    "run",
    "rank",
    "ward",
    "grid_ref",
    "area_km2",
    "incidents",
    "peak",
    "mean",
    "units",
    "centroid_x_27700",
    "centroid_y_27700",
)


def run_tags(run: SurfaceRun) -> dict[str, str]:
    """The run's COG tags, rebuilt from what the run stored (older runs: from its request)."""
    stats = run.stats or {}
    p = run.params
    selection = stats.get("selection") or {
        k: p.get(k) for k in ("categories", "sources", "from", "to")
    }
    computed = stats.get("computed") or p
    kind = str(computed.get("kind") or ("gistar" if p.get("gistar") else "kde"))
    return surface_tags(kind, computed, stats, selection)


def hotspot_rows(
    session: Session, *, run_id: int
) -> tuple[SurfaceRun, list[dict[str, Any]], list[Any]]:
    """A finished run, its hotspot table rows by rank, and their EPSG:27700 geometries."""
    from geoalchemy2.shape import to_shape

    run = get_run(session, run_id=run_id)
    if run.status != RunStatus.DONE:
        raise Conflict(f"Run {run_id} has no hotspots yet (status {run.status})")
    found = session.scalars(
        select(HotspotPolygon).where(HotspotPolygon.run_id == run_id).order_by(HotspotPolygon.rank)
    ).all()
    geoms = [to_shape(r.geom) for r in found]
    centres = [(float(g.centroid.x), float(g.centroid.y)) for g in geoms]
    wards = ward_for_points(session, centres)
    units = str((run.stats or {}).get("units", ""))
    rows = [
        {
            "run": run_id,
            "rank": r.rank,
            "ward": ward,
            "grid_ref": grid_ref(x, y),
            "area_km2": round(r.area_m2 / 1e6, 6),
            "incidents": r.incidents,
            "peak": r.peak,
            "mean": r.mean,
            "units": units,
            "centroid_x_27700": round(x, 1),
            "centroid_y_27700": round(y, 1),
        }
        for r, (x, y), ward in zip(found, centres, wards, strict=True)
    ]
    return run, rows, geoms


def hotspots_csv(session: Session, *, run_id: int) -> str:
    """The run's hotspot table as CSV (text formula-neutralised), one row per hotspot by rank."""
    _, rows, _ = hotspot_rows(session, run_id=run_id)
    return table_csv(TABLE_COLUMNS, rows)


def hotspots_gpkg(session: Session, *, run_id: int) -> bytes:
    """The run's hotspot polygons as a GeoPackage (EPSG:27700) whose metadata is the run's tags."""
    run, rows, geoms = hotspot_rows(session, run_id=run_id)
    tags = {k: v for k, v in run_tags(run).items() if not k.startswith("TIFFTAG_")}
    tags |= {"run": str(run_id), "crs": "EPSG:27700"}
    description = run_tags(run)["TIFFTAG_IMAGEDESCRIPTION"]
    return polygons_gpkg(
        rows, geoms, layer=f"hotspots_run_{run_id}", description=description, metadata=tags
    )
