"""Computing a queued surface run (the worker's side): take its lease, read the incidents,
compute the surface, write the COG and polygons, record the outcome on the run."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.hotspots.compute.geojson import bbox_to_bng
from services.hotspots.compute.points import Points, day_after, day_start
from services.hotspots.compute.raster import write_surface_tif
from services.hotspots.compute.surfaces import (
    HotspotShape,
    SurfaceResult,
    compute_gistar,
    compute_kde,
)
from services.hotspots.enums import RunStatus
from services.hotspots.limits import Limits
from services.hotspots.models import HotspotPolygon, SurfaceRun
from services.hotspots.runs import coverage, leases
from services.hotspots.runs.service import RUNS_DIR, get_run, search_box
from shared.db_errors import is_database_down
from shared.errors import AppError, NotFound
from shared.extent import GridTooLarge, OutsideExtent
from shared.incidents.store import load_points

log = logging.getLogger("csp.hotspots")


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
        log.warning(
            "surface run %s was taken over while %s computed it; result dropped", run.id, owner
        )
        session.rollback()
        return
    result.selection.update(selection_of(session, run.params, limits))
    write_surface_tif(Path(output_dir) / rel, result)
    _store_polygons(session, run.id, result.shapes, result.kind)
    session.refresh(run)
    run.tif_path = str(rel)
    run.stats = {k: v for k, v in result.stats.items() if k != "stage"} | {
        "grid": {
            "cell_m": result.grid.cell_size_m,
            "x0": result.grid.x0,
            "y0": result.grid.y0,
            "nx": result.grid.nx,
            "ny": result.grid.ny,
        },
        "computed": result.params,
        "selection": result.selection,
    }
    run.status, run.progress, run.finished_at = RunStatus.DONE, 1.0, datetime.now(UTC)
    run.lease_owner = run.lease_until = None
    session.commit()


def selection_of(session: Session, p: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The incidents a run (or comparison) asked for, and the sources it read, for its tags."""
    bbox_m = bbox_to_bng(p["bbox"]) if p.get("bbox") else None
    days = [date.fromisoformat(p[k]) if p.get(k) else None for k in ("from", "to")]
    read = coverage.sources_read(
        session,
        sources=p.get("sources"),
        categories=p.get("categories"),
        from_=days[0],
        to=days[1],
        box=search_box(bbox_m, limits),
    )
    return {
        "categories": p.get("categories"),
        "sources": p.get("sources"),
        "from": p.get("from"),
        "to": p.get("to"),
        "sources_read": read,
    }


def _fail_run(session: Session, run_id: int, exc: Exception, owner: str) -> None:
    if isinstance(exc, AppError):
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
    run.status, run.error, run.finished_at = RunStatus.FAILED, message, datetime.now(UTC)
    run.lease_owner = run.lease_until = None
    session.commit()


def _compute(session: Session, run: SurfaceRun, owner: str, limits: Limits) -> SurfaceResult:
    p = run.params
    bbox_m = bbox_to_bng(p["bbox"]) if p.get("bbox") else None
    start = day_start(date.fromisoformat(p["from"])) if p.get("from") else None
    end = day_after(date.fromisoformat(p["to"])) if p.get("to") else None
    pts = Points.of(
        load_points(
            session,
            sources=p.get("sources"),
            categories=p.get("categories"),
            start=start,
            end=end,
            bbox_m=search_box(bbox_m, limits),
        )
    )

    def progress(fraction: float, message: str) -> None:
        leases.renew(session, run.id, owner, fraction=0.1 + 0.7 * fraction, stage=message)

    if p.get("gistar"):
        return compute_gistar(
            pts,
            cell_m=p.get("cell_m"),
            bbox_m=bbox_m,
            neighbourhood_cells=float(p.get("neighbourhood_cells") or 1),
            use_weights=bool(p.get("use_weights", True)),
            progress=progress,
            max_cells=limits.max_cells,
        )
    return compute_kde(
        pts,
        method=p.get("method", "exact"),
        kernel=p.get("kernel", "quartic"),
        radius_m=p.get("radius_m"),
        cell_m=p.get("cell_m"),
        percentile=float(p.get("percentile", 95.0)),
        bbox_m=bbox_m,
        use_weights=bool(p.get("use_weights", True)),
        progress=progress,
        max_cells=limits.max_cells,
    )


def _store_polygons(session: Session, run_id: int, shapes: list[HotspotShape], kind: str) -> None:
    from geoalchemy2.shape import from_shape

    session.execute(delete(HotspotPolygon).where(HotspotPolygon.run_id == run_id))
    session.add_all(
        HotspotPolygon(
            run_id=run_id,
            kind=kind,
            rank=s.rank,
            peak=s.peak,
            mean=s.mean,
            area_m2=s.area_m2,
            incidents=s.incidents,
            geom=from_shape(s.geom, srid=27700),
        )
        for s in shapes
    )
    session.flush()
