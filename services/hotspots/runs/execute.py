"""Computing a queued surface run (the worker's side): take its lease, read the incidents,
compute the surface, write the COG and polygons, record the outcome on the run."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.hotspots import jobs
from services.hotspots.compute.geojson import bbox_to_bng
from services.hotspots.compute.points import Points, day_after, day_start
from services.hotspots.compute.raster import write_surface_tif
from services.hotspots.compute.surfaces import (
    HotspotShape,
    SurfaceResult,
    compute_gistar,
    compute_kde,
)
from services.hotspots.limits import Limits
from services.hotspots.models import HotspotPolygon, SurfaceRun
from services.hotspots.runs import coverage
from services.hotspots.runs.service import RUNS_DIR, search_box
from shared.incidents.store import load_points

KIND = jobs.SURFACE_RUNS


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
    lim = limits or Limits.defaults()

    def work(run: SurfaceRun, me: str) -> None:
        _compute_and_store(session, run, me, output_dir, lim)

    return jobs.execute(session, KIND, run_id, owner=owner, work=work)


def _compute_and_store(
    session: Session, run: SurfaceRun, owner: str, output_dir: Path, limits: Limits
) -> None:
    jobs.renew(session, KIND, run.id, owner, fraction=0.05, stage="loading incidents")
    result = _compute(session, run, owner, limits)
    jobs.renew(session, KIND, run.id, owner, fraction=0.8, stage="writing outputs")
    rel = Path(RUNS_DIR) / f"run-{run.id}" / "surface.tif"
    if not jobs.still_mine(session, KIND, run.id, owner):
        return
    result.selection.update(selection_of(session, run.params, limits))
    write_surface_tif(Path(output_dir) / rel, result)
    _store_polygons(session, run.id, result.shapes, result.kind)
    stats = jobs.done_stats(
        result.stats, result.grid, computed=result.params, selection=result.selection
    )
    jobs.finish(session, run, tif_path=rel, stats=stats)


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
        jobs.renew(session, KIND, run.id, owner, fraction=0.1 + 0.7 * fraction, stage=message)

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
