"""Hotspots use cases: surface runs (create, run, read, evaluate), road sites, water sites."""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hotspots import leases
from services.hotspots.leases import (  # noqa: F401 - the sweep's names, used by tasks and tests
    STALE_QUEUED,
    STALE_RUNNING,
    Sweep,
    sweep_stale_runs,
)
from services.hotspots.limits import Limits
from services.hotspots.models import HotspotPolygon, SurfaceRun
from services.hotspots.pipeline import (
    HotspotShape,
    ParamError,
    Points,
    SurfaceResult,
    compute_gistar,
    compute_kde,
    read_surface_tif,
    shapes_geojson,
    to_bng_geom,
    write_surface_tif,
)
from services.hotspots.schemas import EvaluateRequest, SurfaceCreate
from services.hotspots.sites import (  # noqa: F401 - the site use cases, re-exported for callers
    create_water_site,
    get_water_site,
    list_water_sites,
    road_sites_geojson,
    water_site_counts,
    water_site_density,
    water_site_geometry,
)
from shared.db_errors import is_database_down
from shared.errors import AppError, Conflict, InvalidInput, NotFound
from shared.extent import GridTooLarge, OutsideExtent
from shared.idempotency import scoped_key
from shared.incidents.store import SOURCES, load_points

log = logging.getLogger("csp.hotspots")

RUNS_DIR = "hotspots"
FINISHED = leases.FINISHED


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


def _search_box(
    bbox_m: tuple[float, float, float, float] | None, limits: Limits
) -> tuple[float, float, float, float]:
    """Where incidents are read from: the bbox within the partnership's outline plus margin.

    Rows refused on import never reach the database; the box also keeps rows stored before the
    extent was checked (a sea row) from stretching a default surface.
    """
    ax0, ay0, ax1, ay1 = limits.allowed_box()
    if bbox_m is None:
        return (ax0, ay0, ax1, ay1)
    x0, y0 = max(bbox_m[0], ax0), max(bbox_m[1], ay0)
    return (x0, y0, max(min(bbox_m[2], ax1), x0), max(min(bbox_m[3], ay1), y0))


def _check_grid(session: Session, body: SurfaceCreate, limits: Limits) -> None:
    """Refuse, before queueing, filters that match nothing and grids over the cell limit.

    The grid checked is the one the run will use (same extent, cell size and padding), so a
    request the limit refuses is a 422 now, never a failed run or an out-of-memory worker.
    """
    import numpy as np

    from services.hotspots.pipeline import choose_grid
    from shared.incidents.models import Incident

    g = Incident.geom
    q = select(func.count(), func.ST_XMin(func.ST_Extent(g)), func.ST_YMin(func.ST_Extent(g)),
               func.ST_XMax(func.ST_Extent(g)), func.ST_YMax(func.ST_Extent(g)))
    bbox_m = bbox_to_bng(body.bbox) if body.bbox else None
    box = _search_box(bbox_m, limits)
    if body.sources:
        q = q.where(Incident.source.in_(body.sources))
    if body.categories:
        q = q.where(Incident.category.in_(body.categories))
    if body.from_:
        q = q.where(Incident.occurred_at >= day_start(body.from_))
    if body.to:
        q = q.where(Incident.occurred_at < day_after(body.to))
    q = q.where(g.intersects(func.ST_MakeEnvelope(*box, 27700)))
    n, minx, miny, maxx, maxy = session.execute(q).one()
    if not n:
        raise _field_error("filters", "no incidents match these sources, categories, dates "
                           "and bbox")
    pad = 0.0
    if not body.gistar and bbox_m is None:
        pad = float(body.radius_m) if body.radius_m else _default_radius(session, body, box)
    try:
        choose_grid(np.array([minx, maxx]), np.array([miny, maxy]), cell_m=body.cell_m,
                    pad_m=pad, bbox_m=bbox_m, max_cells=limits.max_cells)
    except ParamError as exc:
        raise _field_error(exc.field, exc.message) from exc
    except GridTooLarge as exc:
        field = "bbox" if bbox_m is not None and body.cell_m is None else "cell_m"
        raise _field_error(field, str(exc)) from exc


def _default_radius(
    session: Session, body: SurfaceCreate, box: tuple[float, float, float, float]
) -> float:
    """The KDE's default radius (the ArcGIS rule on the matching incidents), as the run uses it."""
    import numpy as np

    from services.hotspots.pipeline import kde_radius

    ip = load_points(session, sources=body.sources, categories=body.categories,
                     start=day_start(body.from_), end=day_after(body.to), bbox_m=box)
    w = ip.weight if body.use_weights else np.ones(len(ip))
    try:
        return kde_radius(ip.x, ip.y, w, None)
    except ParamError as exc:
        raise _field_error(exc.field, exc.message) from exc


# ------------------------------------------------------------------------------------------
# Surface runs
# ------------------------------------------------------------------------------------------


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
    _check_grid(session, body, limits or Limits.defaults())
    # The actor names one token ("name (role, token #id)"); a digest, never a truncation.
    key = scoped_key(actor, idempotency_key)
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


def run_surface(
    session: Session,
    run_id: int,
    *,
    output_dir: Path,
    limits: Limits | None = None,
    owner: str | None = None,
) -> SurfaceRun:
    """Compute a run: surface COG, polygons and stats, under a lease renewed while it runs.

    A finished run, or one a live worker holds, is left alone; a "running" run whose lease
    lapsed (its worker died) is taken over and computed again. ``owner`` names the caller's
    lease (the Celery task id keeps it across the task's own retries).
    """
    from sqlalchemy.engine import Engine

    me = owner or leases.new_owner()
    run = session.get(SurfaceRun, run_id, with_for_update=True, populate_existing=True)
    if run is None:
        raise NotFound(f"No surface run {run_id}")
    if leases.take(session, run, owner=me) != "mine":
        return run
    bind = session.get_bind()
    # The heartbeat needs its own connection: only when the session has an engine behind it
    # (a worker, the demo), not a test's single connection.
    heart = leases.Heartbeat(bind, run_id, me) if isinstance(bind, Engine) else None
    try:
        if heart:
            heart.__enter__()
        _compute_and_store(session, run, me, output_dir, limits or Limits.defaults())
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the run
        session.rollback()
        if is_database_down(exc):
            # Transient, and it cannot be recorded anyway: the task retries the run, which is
            # still "running" under our lease and so is computed again.
            raise
        _fail_run(session, run_id, exc, me)
    finally:
        if heart:
            heart.__exit__(None, None, None)
    return get_run(session, run_id=run_id)


def _compute_and_store(
    session: Session, run: SurfaceRun, owner: str, output_dir: Path, limits: Limits
) -> None:
    leases.renew(session, run.id, owner, fraction=0.05, stage="loading incidents")
    result = _compute(session, run, owner, limits)
    leases.renew(session, run.id, owner, fraction=0.8, stage="writing outputs")
    rel = Path(RUNS_DIR) / f"run-{run.id}" / "surface.tif"
    if not leases.still_mine(session, run.id, owner):
        log.warning("surface run %s was taken over while %s computed it; result dropped",
                    run.id, owner)
        session.rollback()
        return
    write_surface_tif(Path(output_dir) / rel, result)
    _store_polygons(session, run.id, result.shapes, result.kind)
    session.refresh(run)
    run.tif_path = str(rel)
    run.stats = {k: v for k, v in result.stats.items() if k != "stage"} | {
        "grid": {"cell_m": result.grid.cell_size_m, "x0": result.grid.x0,
                 "y0": result.grid.y0, "nx": result.grid.nx, "ny": result.grid.ny},
        "computed": result.params,
    }
    run.status, run.progress, run.finished_at = "done", 1.0, datetime.now(UTC)
    run.lease_owner = run.lease_until = None
    session.commit()


def fail_stale_runs(session: Session, *, now: datetime | None = None) -> list[int]:
    """The beat sweep's failures only (see ``sweep_stale_runs``, which also re-queues)."""
    return sweep_stale_runs(session, now=now).failed


def _fail_run(session: Session, run_id: int, exc: Exception, owner: str) -> None:
    if isinstance(exc, ParamError):
        message = f"{exc.field}: {exc.message}"
    elif isinstance(exc, AppError):
        message = exc.detail
    elif isinstance(exc, GridTooLarge | OutsideExtent):
        message = str(exc)
    else:
        log.exception("surface run %s failed", run_id)
        message = f"internal error ({type(exc).__name__}); see the worker log"
    if not leases.still_mine(session, run_id, owner):
        session.rollback()
        return
    run = get_run(session, run_id=run_id)
    session.refresh(run)
    run.status, run.error, run.finished_at = "failed", message, datetime.now(UTC)
    run.lease_owner = run.lease_until = None
    session.commit()


def _compute(session: Session, run: SurfaceRun, owner: str, limits: Limits) -> SurfaceResult:
    p = run.params
    bbox_m = bbox_to_bng(p["bbox"]) if p.get("bbox") else None
    start = day_start(date.fromisoformat(p["from"])) if p.get("from") else None
    end = day_after(date.fromisoformat(p["to"])) if p.get("to") else None
    ip = load_points(session, sources=p.get("sources"), categories=p.get("categories"),
                     start=start, end=end, bbox_m=_search_box(bbox_m, limits))
    pts = Points(ip.x, ip.y, ip.weight, ip.t, ip.category)

    def progress(fraction: float, message: str) -> None:
        leases.renew(session, run.id, owner, fraction=0.1 + 0.7 * fraction, stage=message)

    if p.get("gistar"):
        return compute_gistar(pts, cell_m=p.get("cell_m"), bbox_m=bbox_m,
                              neighbourhood_cells=float(p.get("neighbourhood_cells") or 1),
                              use_weights=bool(p.get("use_weights", True)), progress=progress,
                              max_cells=limits.max_cells)
    return compute_kde(pts, method=p.get("method", "exact"), kernel=p.get("kernel", "quartic"),
                       radius_m=p.get("radius_m"), cell_m=p.get("cell_m"),
                       percentile=float(p.get("percentile", 95.0)), bbox_m=bbox_m,
                       use_weights=bool(p.get("use_weights", True)), progress=progress,
                       max_cells=limits.max_cells)


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


def run_map_html(
    session: Session, *, run_id: int, output_dir: Path, limits: Limits | None = None
) -> str:
    """A standalone folium map of a finished run: surface overlay, polygons and legend."""
    from services.hotspots.pipeline import surface_map
    from shared.maps import render_map_html

    run = get_run(session, run_id=run_id)
    arr, grid, tags = read_surface_tif(tif_file(run, output_dir=output_dir),
                                       max_cells=(limits or Limits.defaults()).max_cells)
    gj = run_polygons(session, run_id=run_id)
    kind = tags.get("kind", "kde")
    m = surface_map(arr, grid, gj, title=f"Run {run_id}: {kind.upper()}",
                    units=tags.get("units", ""), diverging=kind == "gistar")
    return render_map_html(m)


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
        raise _field_error("to", "must not be before from")
    run = get_run(session, run_id=run_id)
    max_cells = (limits or Limits.defaults()).max_cells
    arr, grid, _ = read_surface_tif(tif_file(run, output_dir=output_dir), max_cells=max_cells)
    p = run.params
    ip = load_points(session, sources=body.sources or p.get("sources"),
                     categories=body.categories or p.get("categories"),
                     start=day_start(body.from_), end=day_after(body.to), bbox_m=grid.bounds)
    if len(ip) == 0:
        raise _field_error("from", "no incidents in this window to evaluate against")
    rows = evaluate_surface(arr, grid, ip.x, ip.y)
    return {"run": run_id, "incidents": len(ip), "rows": rows}
