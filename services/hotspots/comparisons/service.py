"""Comparisons of two periods in the database: queue one (checked before it is queued, with the
limits a surface run has), read and list them, and serve a finished one's outputs.

A period the incident data do not cover is refused before any work ("no incident data for this
window"), never compared as if nothing had happened in it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.hotspots import jobs
from services.hotspots.comparisons.schemas import ComparisonCreate, PeriodIn
from services.hotspots.compute.errors import field_error
from services.hotspots.compute.geojson import bbox_to_bng, feature_wgs84
from services.hotspots.enums import RunStatus
from services.hotspots.limits import Limits
from services.hotspots.models import ComparisonArea, SurfaceComparison
from services.hotspots.runs import coverage
from services.hotspots.runs.service import RUNS_DIR, check_grid, search_box
from services.hotspots.schemas import SurfaceCreate
from shared.errors import Conflict
from shared.incidents.models import Incident
from shared.osgrid import grid_ref

COMPARISONS_DIR = "comparisons"


def long_date(day: date) -> str:
    """``30 September 2022``."""
    return f"{day.day} {day:%B %Y}"


def check_periods(body: ComparisonCreate) -> None:
    """Each period ends on or after its start, and the period after starts after the one before."""
    for name, p in (("before", body.before), ("after", body.after)):
        if p.to < p.from_:
            raise field_error(name, "the period ends before it starts")
    if body.after.from_ <= body.before.to:
        raise field_error("after", "must start after the period before ends")


def check_coverage(session: Session, body: ComparisonCreate, box: coverage.Box) -> None:
    """Refuse a period the incident data (of the chosen sources) do not wholly cover."""
    periods = [
        p
        for p in coverage.source_periods(session, box=box)
        if not body.sources or p.source in body.sources
    ]
    if not periods:
        raise field_error("sources", "no incident data of these sources have been imported")
    first = min(p.first_day for p in periods)
    last = max(p.last_day for p in periods)
    held = ", ".join(p.label for p in periods)
    for name, want in (("before", body.before), ("after", body.after)):
        if want.to < first or want.from_ > last:
            part = "this window"
        elif want.from_ < first or want.to > last:
            part = "part of this window"
        else:
            continue
        raise field_error(
            name,
            f"no incident data for {part}: the incident data ({held}) cover "
            f"{long_date(first)} to {long_date(last)}, and this period runs from "
            f"{long_date(want.from_)} to {long_date(want.to)}",
        )


def _count(session: Session, body: ComparisonCreate, period: PeriodIn, box: coverage.Box) -> int:
    where = coverage.incident_filters(
        sources=body.sources,
        categories=body.categories,
        from_=period.from_,
        to=period.to,
        box=box,
    )
    return int(session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0)


def spanning_run(body: ComparisonCreate) -> SurfaceCreate:
    """A surface run over both periods and what lies between: its grid holds the comparison's."""
    return SurfaceCreate.model_validate(
        {
            "method": body.method,
            "kernel": body.kernel,
            "radius_m": body.radius_m,
            "cell_m": body.cell_m,
            "categories": body.categories,
            "sources": body.sources,
            "from": body.before.from_,
            "to": body.after.to,
            "bbox": body.bbox,
            "percentile": body.percentile,
            "use_weights": body.use_weights,
        }
    )


def create_comparison(
    session: Session,
    *,
    body: ComparisonCreate,
    actor: str | None,
    idempotency_key: str | None,
    limits: Limits | None = None,
) -> tuple[SurfaceComparison, bool]:
    """Queue a comparison; the same idempotency key (per caller) returns the first one.

    Checked first: the periods, the sources, the categories (matched without regard to case),
    that the data cover both periods and hold incidents in one of them, and the grid's cells.
    """
    lim = limits or Limits.defaults()
    check_periods(body)
    coverage.check_filters(sources=body.sources, from_=None, to=None)
    if body.bbox is not None:
        bbox_to_bng(body.bbox)
    body = body.model_copy(
        update={"categories": coverage.resolve_categories(session, body.categories)}
    )
    box = search_box(bbox_to_bng(body.bbox) if body.bbox else None, lim)
    # What the data cover is a matter of time, not of the bbox: a quiet corner is not a gap.
    check_coverage(session, body, lim.allowed_box())
    if _count(session, body, body.before, box) + _count(session, body, body.after, box) == 0:
        raise field_error(
            "filters", "no incidents match these sources and categories in either period"
        )
    check_grid(session, spanning_run(body), lim)
    params = body.model_dump(mode="json", by_alias=True)
    return jobs.queue(
        session, jobs.COMPARISONS, params=params, actor=actor, idempotency_key=idempotency_key
    )


def get_comparison(session: Session, *, comparison_id: int) -> SurfaceComparison:
    """One comparison or NotFound."""
    return jobs.get(session, jobs.COMPARISONS, comparison_id)


def list_comparisons(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SurfaceComparison], int]:
    """Comparisons newest first, and how many there are."""
    return jobs.newest_first(session, jobs.COMPARISONS, limit=limit, offset=offset)


def comparison_dir(output_dir: Path, comparison_id: int) -> Path:
    """Folder of a comparison's files under the output folder (ids only, never user text)."""
    return Path(output_dir) / RUNS_DIR / COMPARISONS_DIR / f"comparison-{int(comparison_id)}"


def done(row: SurfaceComparison) -> SurfaceComparison:
    """The comparison if finished, else Conflict naming its status."""
    if row.status != RunStatus.DONE:
        raise Conflict(f"Comparison {row.id} is not finished (status {row.status})")
    return row


def tif_file(row: SurfaceComparison, *, output_dir: Path) -> Path:
    """Absolute path of a finished comparison's difference COG, checked to lie in ``output_dir``."""
    missing = f"The difference surface of comparison {row.id} is missing"
    return jobs.output_file(done(row), output_dir=output_dir, missing=missing)


AREA_COLUMNS = (
    "comparison",
    "rank",
    "change",
    "ward",
    "grid_ref",
    "area_before_km2",
    "area_after_km2",
    "incidents_before",
    "incidents_after",
    "peak_before",
    "peak_after",
    "units",
    "centroid_x_27700",
    "centroid_y_27700",
)


def area_rows(
    session: Session, *, comparison_id: int
) -> tuple[SurfaceComparison, list[dict[str, Any]], list[Any]]:
    """A finished comparison, its changed areas' rows by rank and their EPSG:27700 geometries."""
    from geoalchemy2.shape import to_shape

    row = done(get_comparison(session, comparison_id=comparison_id))
    found = session.scalars(
        select(ComparisonArea)
        .where(ComparisonArea.comparison_id == comparison_id)
        .order_by(ComparisonArea.rank)
    ).all()
    geoms = [to_shape(a.geom) for a in found]
    units = str((row.stats or {}).get("units", ""))
    rows = []
    for a, g in zip(found, geoms, strict=True):
        x, y = float(g.centroid.x), float(g.centroid.y)
        rows.append(
            {
                "comparison": comparison_id,
                "rank": a.rank,
                "change": a.change,
                "ward": a.ward,
                "grid_ref": grid_ref(x, y),
                "area_before_km2": round(a.area_before_m2 / 1e6, 6),
                "area_after_km2": round(a.area_after_m2 / 1e6, 6),
                "incidents_before": a.incidents_before,
                "incidents_after": a.incidents_after,
                "peak_before": a.peak_before,
                "peak_after": a.peak_after,
                "units": units,
                "centroid_x_27700": round(x, 1),
                "centroid_y_27700": round(y, 1),
            }
        )
    return row, rows, geoms


def areas_geojson(session: Session, *, comparison_id: int) -> dict[str, Any]:
    """The changed areas as an RFC 7946 FeatureCollection (WGS84) with the parameters."""
    row, rows, geoms = area_rows(session, comparison_id=comparison_id)
    feats = [feature_wgs84(g, r, fid=r["rank"]) for r, g in zip(rows, geoms, strict=True)]
    return {"type": "FeatureCollection", "features": feats, "parameters": row.params}


WARD_COLUMNS = (
    "ward",
    "code",
    "change",
    "incidents_before",
    "incidents_after",
    "hotspot_before_km2",
    "hotspot_after_km2",
)


def ward_rows(session: Session, *, comparison_id: int) -> list[dict[str, Any]]:
    """The comparison's table by ward (by name), as stored when it was computed."""
    row = done(get_comparison(session, comparison_id=comparison_id))
    return [dict(w) for w in (row.stats or {}).get("wards", [])]
