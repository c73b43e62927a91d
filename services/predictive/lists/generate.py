"""Making one list: fit on the incidents before its date and store the top boxes with wards.

The grid (the agency's area, or the incidents' extent) is checked against the cell limit
before anything is allocated; the forecast itself is ``compute.selection.forecast``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import numpy as np
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import agency_area, ward_areas
from services.predictive.compute.areas import area_grid, ward_of_points
from services.predictive.compute.events import Events
from services.predictive.compute.selection import forecast, ranked_cells
from services.predictive.dates import LONDON, epoch_days, local_midnight
from services.predictive.limits import Limits
from services.predictive.models import Agency, TargetBox, TargetList
from shared.errors import InvalidInput
from shared.extent import partnership_extent
from shared.grid import Grid
from shared.incidents.models import Incident
from shared.incidents.store import load_points

log = logging.getLogger("csp.predictive")
TRAINING_DAYS = 365
STALE_DAYS = 60


def generate_list(
    session: Session,
    *,
    agency: Agency,
    day: date,
    generated_by: str,
    into: TargetList | None,
    limits: Limits,
) -> TargetList:
    """Fit on incidents before ``day`` and store the top boxes (replacing ``into``'s boxes).

    The grid (the agency's area, or the incidents' extent) is checked against the cell limit
    before anything is allocated: ``GridTooLarge`` is a 422 naming the limit. Flushes only.
    """
    area = agency_area(session, agency=agency)
    warnings: list[str] = []
    trained_before = local_midnight(day)
    what = "grid over the agency's area"
    if area is None:
        area = _incident_extent(session, agency=agency, before=trained_before, limits=limits)
        warnings.append("no partnership area is loaded: boxes cover the incidents' extent")
        what = "grid over the incidents' extent"
    grid, mask = area_grid(area, agency.cell_size_m, max_cells=limits.max_cells, what=what)
    events = _training_events(session, agency=agency, grid=grid, before=trained_before)
    shift_start = datetime.combine(day, time(agency.shift_start_hour), tzinfo=LONDON)
    shift_end = shift_start + timedelta(hours=agency.shift_length_hours)
    as_of = epoch_days(trained_before)
    fc = forecast(
        events,
        grid,
        requested=agency.method,
        as_of_days=as_of,
        start_days=epoch_days(shift_start) - as_of,
        end_days=epoch_days(shift_end) - as_of,
        k_boxes=agency.boxes_per_day,
        mask=mask,
    )
    if len(events) == 0:
        warnings.append(
            f"no incidents of the agency's categories in the {TRAINING_DAYS} days before this date"
        )
    elif as_of - float(events.t_days.max()) > STALE_DAYS:
        warnings.append(
            f"the newest incident is {as_of - float(events.t_days.max()):.0f} days "
            "before this date: the data are out of date"
        )
    order = ranked_cells(fc.scores, agency.boxes_per_day)
    order = order[fc.scores.ravel()[order] > 0]
    if order.size < agency.boxes_per_day:
        has = "box has" if order.size == 1 else "boxes have"
        warnings.append(f"only {order.size} {has} a score above zero")
    lst = into or TargetList(agency_id=agency.id, list_date=day)
    lst.method, lst.requested_method = fc.method, fc.requested
    lst.params, lst.warnings = fc.params, [*warnings, *fc.warnings]
    lst.categories = list(agency.categories)
    lst.cell_size_m = grid.cell_size_m
    lst.shift_start, lst.shift_end = shift_start, shift_end
    lst.trained_before, lst.n_events = trained_before, fc.n_events
    lst.n_candidate_cells, lst.generated_by = int(mask.sum()), generated_by
    if into is None:
        session.add(lst)
    else:
        session.execute(delete(TargetBox).where(TargetBox.list_id == into.id))
    session.flush()
    _store_boxes(session, lst=lst, grid=grid, scores=fc.scores, order=order)
    log.info(
        "list %s for %s on %s: %s, %d events", lst.id, agency.code, day, fc.method, fc.n_events
    )
    return lst


def _training_events(session: Session, *, agency: Agency, grid: Grid, before: datetime) -> Events:
    """The agency's incidents of the year before ``before`` inside the grid's bounds."""
    pts = load_points(
        session,
        categories=agency.categories or None,
        end=before,
        start=before - timedelta(days=TRAINING_DAYS),
        bbox_m=grid.bounds,
    )
    return Events(pts.x, pts.y, pts.t_days(), pts.weight)


def _store_boxes(
    session: Session, *, lst: TargetList, grid: Grid, scores: np.ndarray, order: np.ndarray
) -> None:
    rows, cols = np.divmod(order, grid.nx)
    xs = grid.centres_x()[cols]
    ys = grid.centres_y()[rows]
    wards = ward_of_points(xs, ys, ward_areas(session))
    flat = scores.ravel()
    for rank, (r, c, idx, ward) in enumerate(
        zip(rows.tolist(), cols.tolist(), order.tolist(), wards, strict=True), start=1
    ):
        geom = box(*grid.cell_bounds(r, c))
        session.add(
            TargetBox(
                list_id=lst.id,
                rank=rank,
                cell_id=grid.cell_id(r, c),
                score=float(flat[idx]),
                ward=ward,
                geom=from_shape(geom, srid=27700),
            )
        )
    session.flush()


def _incident_extent(
    session: Session, *, agency: Agency, before: datetime, limits: Limits
) -> MultiPolygon:
    """The incidents' bounding box, clipped to the partnership's extent (a stray sea row once
    stretched it to 460 km)."""
    q = select(func.ST_Extent(Incident.geom)).where(Incident.occurred_at < before)
    if agency.categories:
        q = q.where(Incident.category.in_(agency.categories))
    ext = session.scalar(q)
    if not ext:
        raise InvalidInput(
            "No partnership area is loaded and there are no incidents to cover; "
            "run `csp demo load` or `csp predict load-boundaries`"
        )
    nums = [float(v) for v in str(ext)[4:-1].replace(",", " ").split()]
    clipped = (
        box(*nums).buffer(1.0, join_style="mitre") & partnership_extent(limits.margin_m).allowed
    )
    polys = [g for g in getattr(clipped, "geoms", [clipped]) if g.geom_type == "Polygon"]
    if not polys or not clipped.area > 0:
        raise InvalidInput(
            "No partnership area is loaded and no incidents lie within the partnership's "
            "extent; run `csp demo load` or `csp predict load-boundaries`"
        )
    return MultiPolygon(polys)
