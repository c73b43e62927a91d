"""Surface runs in the database: queue one (checked before it is queued), read and list them,
and serve a finished run's outputs (COG path, polygons, evaluation against later incidents)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.hotspots import jobs
from services.hotspots.compute.errors import field_error
from services.hotspots.compute.geojson import bbox_to_bng, shapes_geojson
from services.hotspots.compute.points import day_after, day_start
from services.hotspots.compute.raster import read_surface_tif
from services.hotspots.compute.surfaces import HotspotShape, choose_grid, kde_radius
from services.hotspots.enums import RunStatus
from services.hotspots.limits import Limits
from services.hotspots.models import HotspotPolygon, SurfaceRun
from services.hotspots.runs.coverage import check_filters, incident_filters, resolve_categories
from services.hotspots.schemas import EvaluateRequest, SurfaceCreate
from shared.boundaries.service import ward_for_points
from shared.errors import Conflict
from shared.extent import GridTooLarge
from shared.incidents.models import Incident
from shared.incidents.store import load_points
from shared.osgrid import grid_ref

RUNS_DIR = "hotspots"
Box = tuple[float, float, float, float]


def search_box(bbox_m: Box | None, limits: Limits) -> Box:
    """Where incidents are read from: the bbox within the partnership's outline plus margin.

    Rows refused on import never reach the database; the box also keeps rows stored before the
    extent was checked (a sea row) from stretching a default surface.
    """
    ax0, ay0, ax1, ay1 = limits.allowed_box()
    if bbox_m is None:
        return (ax0, ay0, ax1, ay1)
    x0, y0 = max(bbox_m[0], ax0), max(bbox_m[1], ay0)
    return (x0, y0, max(min(bbox_m[2], ax1), x0), max(min(bbox_m[3], ay1), y0))


def _check_create(body: SurfaceCreate) -> None:
    check_filters(sources=body.sources, from_=body.from_, to=body.to)
    if body.bbox is not None:
        bbox_to_bng(body.bbox)


def check_grid(session: Session, body: SurfaceCreate, limits: Limits) -> None:
    """Refuse, before queueing, filters that match nothing and grids over the cell limit.

    The grid checked is the one the run will use (same extent, cell size and padding), so a
    request the limit refuses is a 422 now, never a failed run or an out-of-memory worker.
    """
    g = Incident.geom
    q = select(
        func.count(),
        func.ST_XMin(func.ST_Extent(g)),
        func.ST_YMin(func.ST_Extent(g)),
        func.ST_XMax(func.ST_Extent(g)),
        func.ST_YMax(func.ST_Extent(g)),
    )
    bbox_m = bbox_to_bng(body.bbox) if body.bbox else None
    box = search_box(bbox_m, limits)
    q = q.where(
        *incident_filters(
            sources=body.sources,
            categories=body.categories,
            from_=body.from_,
            to=body.to,
            box=box,
        )
    )
    n, minx, miny, maxx, maxy = session.execute(q).one()
    if not n:
        raise field_error("filters", "no incidents match these sources, categories, dates and bbox")
    pad = 0.0
    if not body.gistar and bbox_m is None:
        pad = float(body.radius_m) if body.radius_m else _default_radius(session, body, box)
    try:
        choose_grid(
            np.array([minx, maxx]),
            np.array([miny, maxy]),
            cell_m=body.cell_m,
            pad_m=pad,
            bbox_m=bbox_m,
            max_cells=limits.max_cells,
        )
    except GridTooLarge as exc:
        field = "bbox" if bbox_m is not None and body.cell_m is None else "cell_m"
        raise field_error(field, str(exc)) from exc


def _default_radius(session: Session, body: SurfaceCreate, box: Box) -> float:
    """The KDE's default radius (the ArcGIS rule on the matching incidents), as the run uses it."""
    ip = load_points(
        session,
        sources=body.sources,
        categories=body.categories,
        start=day_start(body.from_),
        end=day_after(body.to),
        bbox_m=box,
    )
    w = ip.weight if body.use_weights else np.ones(len(ip))
    return kde_radius(ip.x, ip.y, w, None)


def create_run(
    session: Session,
    *,
    body: SurfaceCreate,
    actor: str | None,
    idempotency_key: str | None,
    limits: Limits | None = None,
) -> tuple[SurfaceRun, bool]:
    """Queue a run; the same idempotency key (per caller) returns the first run, not a new one.

    The run's grid is checked against ``limits`` (cells) first: over it is a 422, not a run.
    """
    _check_create(body)
    body = body.model_copy(update={"categories": resolve_categories(session, body.categories)})
    check_grid(session, body, limits or Limits.defaults())
    params = body.model_dump(mode="json", by_alias=True)
    return jobs.queue(
        session, jobs.SURFACE_RUNS, params=params, actor=actor, idempotency_key=idempotency_key
    )


def get_run(session: Session, *, run_id: int) -> SurfaceRun:
    """One run or NotFound."""
    return jobs.get(session, jobs.SURFACE_RUNS, run_id)


def list_runs(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SurfaceRun], int]:
    """Runs newest first, and how many there are."""
    return jobs.newest_first(session, jobs.SURFACE_RUNS, limit=limit, offset=offset)


def latest_done_run_id(session: Session) -> int | None:
    """The id of the newest finished run, or None."""
    q = select(SurfaceRun.id).where(SurfaceRun.status == RunStatus.DONE)
    return session.scalar(q.order_by(SurfaceRun.id.desc()).limit(1))


def run_dir(output_dir: Path, run_id: int) -> Path:
    """Folder of a run's files under the service's output folder (ids only, never user text)."""
    return Path(output_dir) / RUNS_DIR / f"run-{int(run_id)}"


def tif_file(run: SurfaceRun, *, output_dir: Path) -> Path:
    """Absolute path of a finished run's COG, checked to lie inside ``output_dir``."""
    if run.status != RunStatus.DONE or not run.tif_path:
        raise Conflict(f"Run {run.id} has no surface yet (status {run.status})")
    missing = f"The surface file of run {run.id} is missing"
    return jobs.output_file(run, output_dir=output_dir, missing=missing)


def run_polygons(session: Session, *, run_id: int) -> dict[str, Any]:
    """A run's hotspot polygons as a WGS84 FeatureCollection with the run's parameters."""
    from geoalchemy2.shape import to_shape

    run = get_run(session, run_id=run_id)
    if run.status != RunStatus.DONE:
        raise Conflict(f"Run {run_id} has no polygons yet (status {run.status})")
    rows = session.scalars(
        select(HotspotPolygon).where(HotspotPolygon.run_id == run_id).order_by(HotspotPolygon.rank)
    )
    shapes = [
        HotspotShape(r.rank, r.peak, r.mean, r.area_m2, to_shape(r.geom), r.incidents) for r in rows
    ]
    gj = shapes_geojson(
        shapes, {**run.params, **(run.stats or {}).get("computed", {})}, run_id=run_id
    )
    _place(session, gj["features"], [s.geom for s in shapes])
    return gj


def _place(session: Session, features: list[dict[str, Any]], geoms: list[Any]) -> None:
    """Add each hotspot's centroid (EPSG:27700 metres), its OS grid reference and its ward."""
    centroids = [(float(g.centroid.x), float(g.centroid.y)) for g in geoms]
    wards = ward_for_points(session, centroids)
    for f, (x, y), ward in zip(features, centroids, wards, strict=True):
        f["properties"].update(
            centroid_x_27700=round(x, 1),
            centroid_y_27700=round(y, 1),
            grid_ref=grid_ref(x, y),
            ward=ward,
        )


def evaluate_run(
    session: Session,
    *,
    run_id: int,
    body: EvaluateRequest,
    output_dir: Path,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Hit rate and PAI at 1/5/10% of the run's surface against incidents in [from, to].

    A surface over the cell limit (one stored before the limit) is refused before it is read.
    """
    from services.hotspots.compute.evaluate import evaluate_surface

    if body.to < body.from_:
        raise field_error("to", "must not be before from")
    run = get_run(session, run_id=run_id)
    max_cells = (limits or Limits.defaults()).max_cells
    arr, grid, _ = read_surface_tif(tif_file(run, output_dir=output_dir), max_cells=max_cells)
    p = run.params
    asked = resolve_categories(session, body.categories, strict=False)
    ip = load_points(
        session,
        sources=body.sources or p.get("sources"),
        categories=asked or p.get("categories"),
        start=day_start(body.from_),
        end=day_after(body.to),
        bbox_m=grid.bounds,
    )
    if len(ip) == 0:
        raise field_error("from", "no incidents in this window to evaluate against")
    rows = evaluate_surface(arr, grid, ip.x, ip.y)
    return {"run": run_id, "incidents": len(ip), "rows": rows}
