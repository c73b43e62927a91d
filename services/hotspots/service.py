"""Hotspots use cases: surface runs (create, run, read, evaluate), road sites, water sites."""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hotspots.models import HotspotPolygon, SurfaceRun, WaterSite
from services.hotspots.pipeline import (
    HotspotShape,
    ParamError,
    Points,
    SurfaceResult,
    compute_gistar,
    compute_kde,
    read_surface_tif,
    road_sites,
    shapes_geojson,
    sites_geojson,
    to_bng_geom,
    to_wgs84_geom,
    write_surface_tif,
)
from services.hotspots.schemas import EvaluateRequest, SurfaceCreate, WaterSiteCreate
from shared.db_errors import is_database_down
from shared.errors import AppError, Conflict, InvalidInput, NotFound
from shared.incidents.store import SOURCES, load_points

log = logging.getLogger("csp.hotspots")

RUNS_DIR = "hotspots"
FINISHED = ("done", "failed")


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def day_start(d: date | None) -> datetime | None:
    """Midnight UTC at the start of ``d``."""
    return None if d is None else datetime.combine(d, time(0), tzinfo=UTC)


def day_after(d: date | None) -> datetime | None:
    """Midnight UTC after ``d``: the exclusive end of an inclusive last day."""
    return None if d is None else datetime.combine(d + timedelta(days=1), time(0), tzinfo=UTC)


def bbox_to_bng(bbox: list[float]) -> tuple[float, float, float, float]:
    """The EPSG:27700 envelope of a WGS84 (minlon, minlat, maxlon, maxlat) box."""
    from shapely.geometry import box

    minlon, minlat, maxlon, maxlat = bbox
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise _field_error("bbox", "must be minlon, minlat, maxlon, maxlat with min < max")
    b = to_bng_geom(box(minlon, minlat, maxlon, maxlat).segmentize(0.01)).bounds
    if not all(math.isfinite(v) for v in b):
        raise _field_error("bbox", "is outside the British National Grid")
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _check_create(body: SurfaceCreate) -> None:
    if body.from_ and body.to and body.to < body.from_:
        raise _field_error("to", "must not be before from")
    for s in body.sources or []:
        if s not in SOURCES:
            raise _field_error("sources", f"unknown source {s!r}; choose from {', '.join(SOURCES)}")
    if body.bbox is not None:
        bbox_to_bng(body.bbox)


def _check_extent(session: Session, body: SurfaceCreate) -> None:
    """Refuse filters that match nothing and cells too small for the extent, before queueing."""
    from services.hotspots.pipeline import choose_grid
    from shared.incidents.models import Incident

    g = Incident.geom
    q = select(func.count(), func.ST_XMin(func.ST_Extent(g)), func.ST_YMin(func.ST_Extent(g)),
               func.ST_XMax(func.ST_Extent(g)), func.ST_YMax(func.ST_Extent(g)))
    bbox_m = bbox_to_bng(body.bbox) if body.bbox else None
    if body.sources:
        q = q.where(Incident.source.in_(body.sources))
    if body.categories:
        q = q.where(Incident.category.in_(body.categories))
    if body.from_:
        q = q.where(Incident.occurred_at >= day_start(body.from_))
    if body.to:
        q = q.where(Incident.occurred_at < day_after(body.to))
    if bbox_m:
        q = q.where(g.intersects(func.ST_MakeEnvelope(*bbox_m, 27700)))
    n, minx, miny, maxx, maxy = session.execute(q).one()
    if not n:
        raise _field_error("filters", "no incidents match these sources, categories, dates "
                           "and bbox")
    if body.cell_m is None:
        return
    import numpy as np

    pad = 0.0 if body.gistar else float(body.radius_m or 0.0)
    try:
        choose_grid(np.array([minx, maxx]), np.array([miny, maxy]), cell_m=body.cell_m,
                    pad_m=pad, bbox_m=bbox_m)
    except ParamError as exc:
        raise _field_error(exc.field, exc.message) from exc


# ------------------------------------------------------------------------------------------
# Surface runs
# ------------------------------------------------------------------------------------------


def create_run(
    session: Session, *, body: SurfaceCreate, actor: str | None, idempotency_key: str | None
) -> tuple[SurfaceRun, bool]:
    """Queue a run; the same idempotency key (per caller) returns the first run, not a new one."""
    _check_create(body)
    _check_extent(session, body)
    key = f"{actor}:{idempotency_key}"[:300] if idempotency_key else None
    params = body.model_dump(mode="json", by_alias=True)
    if key is not None:
        existing = session.scalars(select(SurfaceRun).where(SurfaceRun.idempotency_key == key))
        found = existing.first()
        if found is not None:
            if found.params != params:
                raise Conflict("This Idempotency-Key was used with different parameters")
            return found, False
    run = SurfaceRun(status="queued", progress=0.0, params=params, created_by=actor,
                     idempotency_key=key, stats={})
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        # A concurrent retry with the same key won the race: return its run.
        found = session.scalars(select(SurfaceRun).where(SurfaceRun.idempotency_key == key)).one()
        return found, False
    session.commit()
    return run, True


def get_run(session: Session, *, run_id: int) -> SurfaceRun:
    """One run or NotFound."""
    run = session.get(SurfaceRun, run_id)
    if run is None:
        raise NotFound(f"No surface run {run_id}")
    return run


def list_runs(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SurfaceRun], int]:
    """Runs newest first, and how many there are."""
    total = int(session.scalar(select(func.count()).select_from(SurfaceRun)) or 0)
    rows = session.scalars(
        select(SurfaceRun).order_by(SurfaceRun.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def run_dir(output_dir: Path, run_id: int) -> Path:
    """Folder of a run's files under the service's output folder (ids only, never user text)."""
    return Path(output_dir) / RUNS_DIR / f"run-{int(run_id)}"


def tif_file(run: SurfaceRun, *, output_dir: Path) -> Path:
    """Absolute path of a finished run's COG, checked to lie inside ``output_dir``."""
    if run.status != "done" or not run.tif_path:
        raise Conflict(f"Run {run.id} has no surface yet (status {run.status})")
    root = Path(output_dir).resolve()
    path = (root / run.tif_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"The surface file of run {run.id} is missing",
                       internal=f"tif {path} outside {root} or gone")
    return path


def _set_progress(session: Session, run: SurfaceRun, fraction: float, message: str) -> None:
    run.progress = round(min(max(fraction, 0.0), 1.0), 3)
    run.stats = {**(run.stats or {}), "stage": message}
    session.commit()  # progress is read by other sessions while the run goes on


def run_surface(session: Session, run_id: int, *, output_dir: Path) -> SurfaceRun:
    """Compute a queued run: surface COG, polygons and stats; a finished run is left alone."""
    run = session.get(SurfaceRun, run_id, with_for_update=True)
    if run is None:
        raise NotFound(f"No surface run {run_id}")
    if run.status in FINISHED:
        return run
    run.status, run.started_at, run.error = "running", datetime.now(UTC), None
    _set_progress(session, run, 0.05, "loading incidents")
    try:
        result = _compute(session, run)
        _set_progress(session, run, 0.8, "writing outputs")
        rel = Path(RUNS_DIR) / f"run-{run.id}" / "surface.tif"
        write_surface_tif(Path(output_dir) / rel, result)
        _store_polygons(session, run.id, result.shapes, result.kind)
        run.tif_path = str(rel)
        run.stats = {k: v for k, v in result.stats.items() if k != "stage"} | {
            "grid": {"cell_m": result.grid.cell_size_m, "x0": result.grid.x0,
                     "y0": result.grid.y0, "nx": result.grid.nx, "ny": result.grid.ny},
            "computed": result.params,
        }
        run.status, run.progress, run.finished_at = "done", 1.0, datetime.now(UTC)
        session.commit()
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the run
        session.rollback()
        if is_database_down(exc):
            # Transient, and it cannot be recorded anyway: the task retries the run, which is
            # still "running" and so is computed again (marking it failed would strand it).
            raise
        _fail_run(session, run_id, exc)
        run = get_run(session, run_id=run_id)
    return run


# A run "running" longer than the task's hard time limit (30 min) plus its retries was stopped
# from outside (the worker killed, or PostGIS down longer than the retries); one still
# "queued" after hours was lost with the broker's queue. Either way nobody will finish it.
STALE_RUNNING = timedelta(minutes=40)
STALE_QUEUED = timedelta(hours=6)


def fail_stale_runs(
    session: Session,
    *,
    now: datetime | None = None,
    running_for: timedelta = STALE_RUNNING,
    queued_for: timedelta = STALE_QUEUED,
) -> list[int]:
    """Mark runs that no worker will finish as failed, saying why; returns their ids."""
    at = now or datetime.now(UTC)
    rows = session.execute(
        text(
            "UPDATE hotspots.surface_runs SET status = 'failed', finished_at = :at, error = "
            "CASE status WHEN 'running' THEN :running_msg ELSE :queued_msg END "
            "WHERE (status = 'running' AND coalesce(started_at, created_at) < :running_before) "
            "OR (status = 'queued' AND created_at < :queued_before) RETURNING id"
        ),
        {
            "at": at,
            "running_before": at - running_for,
            "queued_before": at - queued_for,
            "running_msg": "stopped: the worker did not finish this run (time limit, a lost "
            "worker or a long database outage); submit it again with a new Idempotency-Key",
            "queued_msg": "stopped: no worker picked this run up (the queue was lost); submit "
            "it again with a new Idempotency-Key",
        },
    )
    ids = sorted(int(r[0]) for r in rows)
    session.commit()
    if ids:
        log.warning("surface runs marked failed as stale: %s", ids)
    return ids


def _fail_run(session: Session, run_id: int, exc: Exception) -> None:
    if isinstance(exc, ParamError):
        message = f"{exc.field}: {exc.message}"
    elif isinstance(exc, AppError):
        message = exc.detail
    else:
        log.exception("surface run %s failed", run_id)
        message = f"internal error ({type(exc).__name__}); see the worker log"
    run = get_run(session, run_id=run_id)
    run.status, run.error, run.finished_at = "failed", message, datetime.now(UTC)
    session.commit()


def _compute(session: Session, run: SurfaceRun) -> SurfaceResult:
    p = run.params
    bbox_m = bbox_to_bng(p["bbox"]) if p.get("bbox") else None
    start = day_start(date.fromisoformat(p["from"])) if p.get("from") else None
    end = day_after(date.fromisoformat(p["to"])) if p.get("to") else None
    ip = load_points(session, sources=p.get("sources"), categories=p.get("categories"),
                     start=start, end=end, bbox_m=bbox_m)
    pts = Points(ip.x, ip.y, ip.weight, ip.t, ip.category)

    def progress(fraction: float, message: str) -> None:
        _set_progress(session, run, 0.1 + 0.7 * fraction, message)

    if p.get("gistar"):
        return compute_gistar(pts, cell_m=p.get("cell_m"), bbox_m=bbox_m,
                              neighbourhood_cells=float(p.get("neighbourhood_cells") or 1),
                              use_weights=bool(p.get("use_weights", True)), progress=progress)
    return compute_kde(pts, method=p.get("method", "exact"), kernel=p.get("kernel", "quartic"),
                       radius_m=p.get("radius_m"), cell_m=p.get("cell_m"),
                       percentile=float(p.get("percentile", 95.0)), bbox_m=bbox_m,
                       use_weights=bool(p.get("use_weights", True)), progress=progress)


def _store_polygons(
    session: Session, run_id: int, shapes: list[HotspotShape], kind: str
) -> None:
    from geoalchemy2.shape import from_shape

    session.execute(delete(HotspotPolygon).where(HotspotPolygon.run_id == run_id))
    session.add_all(
        HotspotPolygon(run_id=run_id, kind=kind, rank=s.rank, peak=s.peak, mean=s.mean,
                       area_m2=s.area_m2, geom=from_shape(s.geom, srid=27700))
        for s in shapes
    )
    session.flush()


def run_polygons(session: Session, *, run_id: int) -> dict[str, Any]:
    """A run's hotspot polygons as a WGS84 FeatureCollection with the run's parameters."""
    from geoalchemy2.shape import to_shape

    run = get_run(session, run_id=run_id)
    if run.status != "done":
        raise Conflict(f"Run {run_id} has no polygons yet (status {run.status})")
    rows = session.scalars(
        select(HotspotPolygon).where(HotspotPolygon.run_id == run_id).order_by(HotspotPolygon.rank)
    )
    shapes = [HotspotShape(r.rank, r.peak, r.mean, r.area_m2, to_shape(r.geom)) for r in rows]
    return shapes_geojson(shapes, {**run.params, **(run.stats or {}).get("computed", {})},
                          run_id=run_id)


def run_map_html(session: Session, *, run_id: int, output_dir: Path) -> str:
    """A standalone folium map of a finished run: surface overlay, polygons and legend."""
    from services.hotspots.pipeline import surface_map
    from shared.maps import render_map_html

    run = get_run(session, run_id=run_id)
    arr, grid, tags = read_surface_tif(tif_file(run, output_dir=output_dir))
    gj = run_polygons(session, run_id=run_id)
    kind = tags.get("kind", "kde")
    m = surface_map(arr, grid, gj, title=f"Run {run_id}: {kind.upper()}",
                    units=tags.get("units", ""), diverging=kind == "gistar")
    return render_map_html(m)


def evaluate_run(
    session: Session, *, run_id: int, body: EvaluateRequest, output_dir: Path
) -> dict[str, Any]:
    """Hit rate and PAI at 1/5/10% of the run's surface against incidents in [from, to]."""
    from services.hotspots.compute.evaluate import evaluate_surface

    if body.to < body.from_:
        raise _field_error("to", "must not be before from")
    run = get_run(session, run_id=run_id)
    arr, grid, _ = read_surface_tif(tif_file(run, output_dir=output_dir))
    p = run.params
    ip = load_points(session, sources=body.sources or p.get("sources"),
                     categories=body.categories or p.get("categories"),
                     start=day_start(body.from_), end=day_after(body.to), bbox_m=grid.bounds)
    if len(ip) == 0:
        raise _field_error("from", "no incidents in this window to evaluate against")
    rows = evaluate_surface(arr, grid, ip.x, ip.y)
    return {"run": run_id, "incidents": len(ip), "rows": rows}


# ------------------------------------------------------------------------------------------
# Road-casualty sites
# ------------------------------------------------------------------------------------------


def road_sites_geojson(
    session: Session,
    *,
    min_collisions: int = 4,
    radius_m: float = 50.0,
    years: float = 3.0,
    end: date | None = None,
) -> dict[str, Any]:
    """Cluster sites from the STATS19 collisions in the database, as WGS84 GeoJSON."""
    ip = load_points(session, sources=["stats19"], end=day_after(end))
    pts = Points(ip.x, ip.y, ip.weight, ip.t, ip.category)
    try:
        sites = road_sites(pts, min_collisions=min_collisions, radius_m=radius_m, years=years,
                           end=day_after(end))
    except ParamError as exc:
        raise _field_error(exc.field, exc.message) from exc
    params = {"min_collisions": min_collisions, "radius_m": radius_m, "years": years,
              "end": end.isoformat() if end else None, "collisions": len(pts)}
    return sites_geojson(sites, params)


# ------------------------------------------------------------------------------------------
# Water-safety sites
# ------------------------------------------------------------------------------------------


def create_water_site(session: Session, *, body: WaterSiteCreate, actor: str | None) -> WaterSite:
    """Register a water site; an access point is a Point, a bank stretch a LineString."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import shape

    want = "Point" if body.kind == "access_point" else "LineString"
    try:
        g = shape(body.geometry)
    except Exception as exc:  # noqa: BLE001 - any malformed GeoJSON
        raise _field_error("geometry", "is not valid GeoJSON") from exc
    if g.geom_type != want or g.is_empty or not g.is_valid:
        raise _field_error("geometry", f"a {body.kind} needs a valid {want} (lon/lat)")
    lon_ok = all(-180 <= c[0] <= 180 and -90 <= c[1] <= 90 for c in g.coords)
    if not lon_ok:
        raise _field_error("geometry", "coordinates must be lon/lat (WGS84)")
    bng = to_bng_geom(g)
    if not all(math.isfinite(v) for v in bng.bounds):
        raise _field_error("geometry", "is outside the British National Grid")
    site = WaterSite(name=body.name.strip(), kind=body.kind, notes=body.notes, created_by=actor,
                     geom=from_shape(bng, srid=27700))
    session.add(site)
    session.commit()
    return site


def list_water_sites(session: Session) -> list[WaterSite]:
    """Every water site, by id."""
    return list(session.scalars(select(WaterSite).order_by(WaterSite.id)))


def get_water_site(session: Session, *, site_id: int) -> WaterSite:
    """One water site or NotFound."""
    site = session.get(WaterSite, site_id)
    if site is None:
        raise NotFound(f"No water site {site_id}")
    return site


def water_site_geometry(site: WaterSite) -> dict[str, Any]:
    """A site's geometry as WGS84 GeoJSON."""
    from geoalchemy2.shape import to_shape
    from shapely.geometry import mapping

    return dict(mapping(to_wgs84_geom(to_shape(site.geom))))


def _water_incidents(session: Session, *, snap_m: float) -> list[Any]:
    """Water incidents within ``snap_m`` of any site: x, y, severity, time."""
    return list(session.execute(
        text(
            "SELECT ST_X(i.geom), ST_Y(i.geom), "
            "COALESCE(i.attributes->>'severity', i.category), i.occurred_at "
            "FROM incidents.incidents i WHERE i.source = 'water' AND EXISTS ("
            "SELECT 1 FROM hotspots.water_sites s WHERE ST_DWithin(i.geom, s.geom, :snap)) "
            "ORDER BY i.id"
        ),
        {"snap": snap_m},
    ))


def water_site_counts(
    session: Session, *, site_id: int, period: str = "quarter", snap_m: float = 100.0
) -> dict[str, Any]:
    """Incidents at one site by severity and period; each incident counts at its nearest site."""
    import numpy as np
    from geoalchemy2.shape import to_shape

    from services.hotspots.compute.water import site_counts

    get_water_site(session, site_id=site_id)
    sites = list_water_sites(session)
    rows = _water_incidents(session, snap_m=snap_m)
    xs = np.array([r[0] for r in rows], dtype=np.float64)
    ys = np.array([r[1] for r in rows], dtype=np.float64)
    sev = np.array([r[2] for r in rows], dtype=str)
    ts = np.array([r[3].astimezone(UTC).replace(tzinfo=None) for r in rows],
                  dtype="datetime64[s]").reshape(len(rows))
    res = site_counts([to_shape(s.geom) for s in sites], xs, ys, sev, ts, snap_m=snap_m,
                      period=period)  # type: ignore[arg-type]
    idx = [s.id for s in sites].index(site_id)
    row = res.sites[idx]
    return {"site": site_id, "period": period, "snap_m": snap_m, "total": row["total"],
            "by_severity": row["by_severity"], "by_period": row["by_period"]}


def water_site_density(
    session: Session,
    *,
    site_id: int,
    bandwidth_m: float = 200.0,
    step_m: float = 25.0,
    snap_m: float = 100.0,
) -> dict[str, Any]:
    """Quartic KDE of water incidents along a bank stretch, per km of bank."""
    import numpy as np
    from geoalchemy2.shape import to_shape

    from services.hotspots.compute.water import kde_along_line

    site = get_water_site(session, site_id=site_id)
    if site.kind != "bank_stretch":
        raise _field_error("site", "density along the water needs a bank_stretch site")
    line = to_shape(site.geom)
    if line.length / step_m > 20_000:
        raise _field_error("step_m", "gives more than 20000 positions along this bank")
    rows = session.execute(
        text("SELECT ST_X(geom), ST_Y(geom), weight FROM incidents.incidents "
             "WHERE source = 'water' AND ST_DWithin(geom, "
             "(SELECT geom FROM hotspots.water_sites WHERE id = :id), :snap)"),
        {"id": site_id, "snap": snap_m},
    ).all()
    xs = np.array([r[0] for r in rows], dtype=np.float64)
    ys = np.array([r[1] for r in rows], dtype=np.float64)
    d, dens = kde_along_line(line, xs, ys, bandwidth_m=bandwidth_m, step_m=step_m,
                             snap_m=snap_m)
    pts = [line.interpolate(float(v)) for v in d]
    lonlat = [to_wgs84_geom(p) for p in pts]
    return {
        "site": site_id, "bandwidth_m": bandwidth_m, "step_m": step_m, "snap_m": snap_m,
        "incidents": len(rows), "units": "incidents per km of bank",
        "distance_m": [round(float(v), 2) for v in d],
        "density_per_km": [float(v) for v in dens],
        "positions": [[p.x, p.y] for p in lonlat],
    }
