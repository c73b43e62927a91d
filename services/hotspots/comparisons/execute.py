"""Computing a queued comparison (the worker's side): take its lease, read both periods'
incidents and the wards, compare them, write the difference COG and the changed areas."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.hotspots import jobs
from services.hotspots.comparisons.service import COMPARISONS_DIR
from services.hotspots.compute.compare import ComparisonResult, Ward, compare_periods
from services.hotspots.compute.geojson import bbox_to_bng
from services.hotspots.compute.points import Points, day_after, day_start
from services.hotspots.compute.raster import write_cog
from services.hotspots.compute.tags import period_interval, surface_tags
from services.hotspots.limits import Limits
from services.hotspots.models import ComparisonArea, SurfaceComparison
from services.hotspots.runs.execute import selection_of
from services.hotspots.runs.service import RUNS_DIR, search_box
from shared.boundaries.service import layer_features
from shared.incidents.store import load_points

KIND = jobs.COMPARISONS


def run_comparison(
    session: Session,
    comparison_id: int,
    *,
    output_dir: Path,
    limits: Limits | None = None,
    owner: str | None = None,
) -> SurfaceComparison:
    """Compute a comparison under a lease renewed while it runs (as a surface run is computed).

    A finished comparison, or one a live worker holds, is left alone; one whose lease lapsed
    is taken over and computed again.
    """
    lim = limits or Limits.defaults()

    def work(row: SurfaceComparison, me: str) -> None:
        _compute_and_store(session, row, me, output_dir, lim)

    return jobs.execute(session, KIND, comparison_id, owner=owner, work=work)


def _period(p: dict[str, Any], name: str) -> tuple[date, date]:
    return date.fromisoformat(p[name]["from"]), date.fromisoformat(p[name]["to"])


def _points(session: Session, p: dict[str, Any], name: str, box: Any) -> Points:
    first, last = _period(p, name)
    return Points.of(
        load_points(
            session,
            sources=p.get("sources"),
            categories=p.get("categories"),
            start=day_start(first),
            end=day_after(last),
            bbox_m=box,
        )
    )


def _compute(
    session: Session, row: SurfaceComparison, owner: str, limits: Limits
) -> ComparisonResult:
    p = row.params
    bbox_m = bbox_to_bng(p["bbox"]) if p.get("bbox") else None
    box = search_box(bbox_m, limits)
    before, after = _points(session, p, "before", box), _points(session, p, "after", box)
    wards = [Ward(f.code, f.name, f.geom) for f in layer_features(session, "ward")]
    (b0, b1), (a0, a1) = _period(p, "before"), _period(p, "after")

    def progress(fraction: float, message: str) -> None:
        stage = f"comparing: {message}"
        jobs.renew(session, KIND, row.id, owner, fraction=0.1 + 0.7 * fraction, stage=stage)

    return compare_periods(
        before,
        after,
        days_before=(b1 - b0).days + 1,
        days_after=(a1 - a0).days + 1,
        method=p.get("method", "exact"),
        kernel=p.get("kernel", "quartic"),
        radius_m=p.get("radius_m"),
        cell_m=p.get("cell_m"),
        percentile=float(p.get("percentile", 95.0)),
        bbox_m=bbox_m,
        use_weights=bool(p.get("use_weights", True)),
        wards=wards,
        progress=progress,
        max_cells=limits.max_cells,
    )


def comparison_tags(result: ComparisonResult, p: dict[str, Any]) -> dict[str, str]:
    """The difference COG's tags: both periods, the filters, the KDE settings, the threshold."""
    before = period_interval(p["before"]["from"], p["before"]["to"])
    after = period_interval(p["after"]["from"], p["after"]["to"])
    tags = surface_tags("difference", result.params, result.stats, result.selection)
    read_b, read_a = result.selection["before_read"], result.selection["after_read"]
    return tags | {
        "units": str(result.stats["units"]),
        "kind": "difference",
        "difference": "after minus before",
        "period": f"before {before}; after {after}",
        "period_before": before,
        "period_after": after,
        "period_read": (
            f"before {period_interval(read_b.get('first_day_read'), read_b.get('last_day_read'))}"
            f"; after {period_interval(read_a.get('first_day_read'), read_a.get('last_day_read'))}"
        ),
        "categories_read": tags["categories_read"],
        "incidents_before": str(result.stats["incidents_before"]),
        "incidents_after": str(result.stats["incidents_after"]),
        "crs": "EPSG:27700",
    }


def _compute_and_store(
    session: Session, row: SurfaceComparison, owner: str, output_dir: Path, limits: Limits
) -> None:
    jobs.renew(session, KIND, row.id, owner, fraction=0.05, stage="loading incidents")
    result = _compute(session, row, owner, limits)
    jobs.renew(session, KIND, row.id, owner, fraction=0.85, stage="writing outputs")
    rel = Path(RUNS_DIR) / COMPARISONS_DIR / f"comparison-{row.id}" / "difference.tif"
    if not jobs.still_mine(session, KIND, row.id, owner):
        return
    p = row.params
    asked = selection_of(
        session, {**p, "from": p["before"]["from"], "to": p["after"]["to"]}, limits
    )
    read = sorted({str(c) for r in result.selection.values() for c in r.get("categories_read", [])})
    result.selection.update(asked, categories_read=read)
    path = Path(output_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    write_cog(path, result.difference, result.grid, tags=comparison_tags(result, p))
    _store_areas(session, row.id, result)
    stats = jobs.done_stats(
        result.stats, result.grid, computed=result.params, selection=result.selection
    )
    jobs.finish(session, row, tif_path=rel, stats=stats | {"wards": _ward_rows(result)})


def _ward_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """The table by ward as stored on the comparison (areas in km²)."""
    return [
        {
            "ward": w.name,
            "code": w.code,
            "change": w.change,
            "incidents_before": w.incidents_before,
            "incidents_after": w.incidents_after,
            "hotspot_before_km2": round(w.hotspot_before_m2 / 1e6, 6),
            "hotspot_after_km2": round(w.hotspot_after_m2 / 1e6, 6),
        }
        for w in result.wards
    ]


def _store_areas(session: Session, comparison_id: int, result: ComparisonResult) -> None:
    from geoalchemy2.shape import from_shape

    session.execute(delete(ComparisonArea).where(ComparisonArea.comparison_id == comparison_id))
    session.add_all(
        ComparisonArea(
            comparison_id=comparison_id,
            rank=a.rank,
            change=a.change,
            area_before_m2=a.area_before_m2,
            area_after_m2=a.area_after_m2,
            incidents_before=a.incidents_before,
            incidents_after=a.incidents_after,
            peak_before=a.peak_before,
            peak_after=a.peak_after,
            ward=a.ward,
            geom=from_shape(a.geom, srid=27700),
        )
        for a in result.areas
    )
    session.flush()
