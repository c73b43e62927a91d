"""Predictive use cases: agencies, boundaries, daily target lists, visits and diagnostics."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from services.predictive.agencies import DEFAULTS, METHOD_CHOICES
from services.predictive.compute.areas import (
    BadArea,
    NamedArea,
    area_from_geojson,
    area_grid,
    as_multipolygon,
    check_area_cells,
    read_areas,
    read_outline,
    ward_of_points,
)
from services.predictive.models import Agency, Area, TargetBox, TargetList, Visit
from shared.errors import InvalidInput, NotFound
from shared.extent import GridTooLarge, OutsideExtent, partnership_extent
from shared.grid import Grid
from shared.idempotency import insert_once, replay, scoped_key
from shared.settings import CommonSettings, common_settings

log = logging.getLogger("csp.predictive")
LONDON = ZoneInfo("Europe/London")
DISTRICT_CODE = "E06000035"
DISTRICT_NAME = "Medway"
GENERATORS = ("nightly", "on_demand", "cli", "demo")
MAX_RANGE_DAYS = 366
# Lists are made on request (POST /targets) for dates from a year back to a week ahead.
WINDOW_BACK_DAYS = 366
WINDOW_AHEAD_DAYS = 7
# A visit is logged against a list from the day before its date to the day after it, and never
# ahead of the clock by more than a phone's clock error.
VISIT_EARLY_DAYS = 1
VISIT_LATE_DAYS = 1
VISIT_CLOCK_SKEW = timedelta(minutes=10)
TRAINING_DAYS = 365
STALE_DAYS = 60


# ---------------------------------------------------------------------------------------------
# Agencies and boundaries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on the work a list may ask for: grid cells and how far areas may reach."""

    max_cells: int
    margin_m: float

    @classmethod
    def of(cls, settings: CommonSettings) -> Limits:
        """The limits in a service's (or the process's) settings."""
        return cls(max_cells=settings.max_grid_cells, margin_m=settings.extent_margin_m)


def _limits(limits: Limits | None) -> Limits:
    return limits if limits is not None else Limits.of(common_settings())


def _default_agency(code: str) -> Agency:
    """An agency row (not added to the session) with the defaults of ``code``."""
    d = DEFAULTS[code]
    return Agency(
        code=d.code,
        name=d.name,
        categories=list(d.categories),
        boxes_per_day=d.boxes_per_day,
        shift_start_hour=d.shift_start_hour,
        shift_length_hours=d.shift_length_hours,
        cell_size_m=d.cell_size_m,
        method=d.method,
        area=None,
    )


def ensure_agencies(session: Session) -> list[Agency]:
    """Create the default agencies that are missing (a write); returns every agency."""
    existing = {a.code for a in session.scalars(select(Agency))}
    for code in DEFAULTS:
        if code not in existing:
            session.add(_default_agency(code))
    session.flush()
    return list(session.scalars(select(Agency).order_by(Agency.code)))


def list_agencies(session: Session) -> list[Agency]:
    """Every agency by code; defaults not stored yet are shown with their settings, not stored."""
    stored = {a.code: a for a in session.scalars(select(Agency))}
    missing = {code: _default_agency(code) for code in DEFAULTS if code not in stored}
    merged = stored | missing
    return [merged[code] for code in sorted(merged)]


def find_agency(session: Session, code: str) -> Agency | None:
    """The stored agency with ``code``, None for a known default not stored yet (no write)."""
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None and code not in DEFAULTS:
        raise NotFound(f"No agency {code!r}; known: {', '.join(sorted(DEFAULTS))}")
    return agency


def get_agency(session: Session, code: str) -> Agency:
    """The stored agency with ``code``; a default is created on first use (for writes only)."""
    agency = find_agency(session, code)
    if agency is None:
        ensure_agencies(session)
        agency = session.scalars(select(Agency).where(Agency.code == code)).one()
    return agency


def update_agency(
    session: Session, *, code: str, changes: dict[str, Any], limits: Limits | None = None
) -> Agency:
    """Change an agency's settings; ``area`` is WGS84 GeoJSON (checked) or None (the district).

    The area must be a valid, non-empty polygon inside the partnership's extent, and its grid
    at the agency's cell size within the cell limit; otherwise 422 naming the field.
    """
    lim = _limits(limits)
    if "method" in changes and changes["method"] not in METHOD_CHOICES:
        raise InvalidInput(
            f"Unknown method {changes['method']!r}",
            errors=[{"field": "method", "message": "not a known method"}],
        )
    agency = get_agency(session, code)
    area: MultiPolygon | None = None
    if changes.get("area") is not None:
        area = _checked_area(changes["area"], lim)
    elif "area" not in changes and agency.area is not None:
        area = _multi(to_shape(agency.area))
    if "area" in changes or "cell_size_m" in changes:
        cell = float(changes.get("cell_size_m", agency.cell_size_m))
        where = "area" if area is not None and "area" in changes else "cell_size_m"
        _check_grid(area or district_outline(session), cell, lim, field=where)
    for key, value in changes.items():
        if key == "area":
            value = None if area is None else from_shape(area, srid=27700)
        setattr(agency, key, value)
    session.commit()
    return agency


def _checked_area(geojson: Any, limits: Limits) -> MultiPolygon:
    """An agency area from WGS84 GeoJSON, or InvalidInput (field ``area``) saying what is wrong."""
    try:
        area = area_from_geojson(geojson)
        partnership_extent(limits.margin_m).check_geometry(area, what="area")
    except (BadArea, OutsideExtent) as exc:
        raise InvalidInput(
            f"area: {exc}" if isinstance(exc, BadArea) else str(exc),
            errors=[{"field": "area", "message": str(exc)}],
        ) from exc
    return area


def _check_grid(
    area: BaseGeometry | None, cell_size_m: float, limits: Limits, *, field: str
) -> None:
    """InvalidInput (naming the cell limit) when the area's grid would be too large."""
    if area is None:
        return
    try:
        check_area_cells(area, cell_size_m, limits.max_cells)
    except GridTooLarge as exc:
        raise InvalidInput(str(exc), errors=[{"field": field, "message": str(exc)}]) from exc


def _multi(geom: Any) -> MultiPolygon:
    return as_multipolygon(geom)


def load_boundaries(session: Session, *, wards_path: Path, outline_path: Path) -> tuple[int, int]:
    """Store the wards and the district outline (union of ``outline_path``); idempotent."""
    wards = read_areas(wards_path)
    outline = read_outline(outline_path)
    for kind, code, name, geom in [
        ("district", DISTRICT_CODE, DISTRICT_NAME, outline),
        *(("ward", w.code, w.name, w.geom) for w in wards),
    ]:
        row = session.scalars(select(Area).where(Area.kind == kind, Area.code == code)).first()
        if row is None:
            row = Area(kind=kind, code=code, name=name, geom=from_shape(geom, srid=27700))
            session.add(row)
        else:
            row.name, row.geom = name, from_shape(geom, srid=27700)
    session.flush()
    return len(wards), 1


def district_outline(session: Session) -> MultiPolygon | None:
    """The partnership's outline (EPSG:27700), or None when no boundaries were loaded."""
    row = session.scalars(select(Area).where(Area.kind == "district")).first()
    return None if row is None else _multi(to_shape(row.geom))


def ward_areas(session: Session) -> list[NamedArea]:
    """Every ward as a named EPSG:27700 polygon."""
    rows = session.scalars(select(Area).where(Area.kind == "ward").order_by(Area.name))
    return [NamedArea(r.code, r.name, to_shape(r.geom)) for r in rows]


# ---------------------------------------------------------------------------------------------
# Daily lists
# ---------------------------------------------------------------------------------------------


def today_london() -> date:
    """Today's date in Medway."""
    return datetime.now(LONDON).date()


def local_midnight(day: date) -> datetime:
    """Midnight at the start of ``day`` in Europe/London, as a UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def _days(dt: datetime) -> float:
    return dt.timestamp() / 86400.0


@dataclass
class ListView:
    """A stored list, its agency, its boxes (by rank) and visit counts per box."""

    target_list: TargetList
    agency: Agency
    boxes: list[TargetBox]
    visits: dict[str, int]


def find_list(session: Session, *, agency: Agency | None, day: date) -> TargetList | None:
    """The stored list of ``agency`` for ``day``, if any (None for an agency not stored)."""
    if agency is None or agency.id is None:
        return None
    return session.scalars(
        select(TargetList).where(TargetList.agency_id == agency.id, TargetList.list_date == day)
    ).first()


class NoList(NotFound):
    """No list is stored for (agency, date); ``dates`` are the latest dates that have one."""

    def __init__(self, agency_code: str, day: date, dates: list[date]) -> None:
        shown = ", ".join(d.isoformat() for d in dates) or "none yet"
        super().__init__(
            f"no list for {agency_code} on {day.isoformat()}; lists are made nightly or by "
            f"POST /targets (analyst or admin). Dates with a list: {shown}",
            extra={
                "agency": agency_code,
                "date": day.isoformat(),
                "dates_with_lists": [d.isoformat() for d in dates],
            },
        )
        self.agency_code, self.day, self.dates = agency_code, day, dates


def list_dates(session: Session, *, agency: Agency | None, limit: int = 14) -> list[date]:
    """The latest ``limit`` dates with a stored list for ``agency``, newest first."""
    if agency is None or agency.id is None:
        return []
    q = (
        select(TargetList.list_date)
        .where(TargetList.agency_id == agency.id)
        .order_by(TargetList.list_date.desc())
        .limit(limit)
    )
    return list(session.scalars(q))


def get_list(session: Session, *, agency_code: str, day: date) -> ListView:
    """The stored list of (agency, day); ``NoList`` (404) when none was made. Never writes."""
    agency = find_agency(session, agency_code)
    lst = find_list(session, agency=agency, day=day)
    if lst is None:
        raise NoList(agency_code, day, list_dates(session, agency=agency))
    return view_list(session, lst.id)


def list_window(today: date | None = None) -> tuple[date, date]:
    """First and last date a list may be asked for: a year back to a week ahead of today."""
    t = today or today_london()
    return t - timedelta(days=WINDOW_BACK_DAYS), t + timedelta(days=WINDOW_AHEAD_DAYS)


def request_list(
    session: Session, *, agency_code: str, day: date, limits: Limits | None = None
) -> tuple[ListView, bool]:
    """Make (or return) the list of (agency, day) on request, for a date within the window."""
    lo, hi = list_window()
    if not lo <= day <= hi:
        msg = (
            f"lists are made for dates from {lo.isoformat()} to {hi.isoformat()} "
            f"({WINDOW_BACK_DAYS} days back to {WINDOW_AHEAD_DAYS} days ahead of today)"
        )
        raise InvalidInput(msg, errors=[{"field": "date", "message": msg}])
    return get_or_create_list(session, agency_code=agency_code, day=day, limits=limits)


def get_or_create_list(
    session: Session,
    *,
    agency_code: str,
    day: date,
    generated_by: str = "on_demand",
    force: bool = False,
    limits: Limits | None = None,
) -> tuple[ListView, bool]:
    """The list for (agency, day), generated from incidents before ``day`` when missing.

    A write (the nightly job, ``request_list``, the CLI and the demo; never a GET). Idempotent:
    an existing list is returned untouched unless ``force``; then it is refitted in place (same
    id, so visits keep their link). Returns (view, created_or_replaced).
    """
    if generated_by not in GENERATORS:
        raise ValueError(f"generated_by must be one of {GENERATORS}")
    agency = get_agency(session, agency_code)
    existing = find_list(session, agency=agency, day=day)
    if existing is not None and not force:
        return view_list(session, existing.id), False
    # Serialise generation per (agency, day) so concurrent requests make one list.
    session.execute(
        text("SELECT pg_advisory_xact_lock(:a, :d)"),
        {"a": 7_000_000 + agency.id, "d": day.toordinal()},
    )
    existing = find_list(session, agency=agency, day=day)
    if existing is not None and not force:
        return view_list(session, existing.id), False
    lst = _generate(
        session,
        agency=agency,
        day=day,
        generated_by=generated_by,
        into=existing,
        limits=_limits(limits),
    )
    session.commit()
    return view_list(session, lst.id), True


def _training_events(session: Session, *, agency: Agency, grid: Grid, before: datetime) -> Any:
    from services.predictive.compute.events import Events
    from shared.incidents.store import load_points

    pts = load_points(
        session,
        categories=agency.categories or None,
        end=before,
        start=before - timedelta(days=TRAINING_DAYS),
        bbox_m=grid.bounds,
    )
    return Events(pts.x, pts.y, pts.t_days(), pts.weight)


def _generate(
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
    before anything is allocated: ``GridTooLarge`` is a 422 naming the limit.
    """
    from services.predictive.compute.selection import forecast, ranked_cells

    area = _agency_area(session, agency)
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
    as_of = _days(trained_before)
    fc = forecast(
        events,
        grid,
        requested=agency.method,
        as_of_days=as_of,
        start_days=_days(shift_start) - as_of,
        end_days=_days(shift_end) - as_of,
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
        warnings.append(f"only {order.size} boxes have a score above zero")
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


def _agency_area(session: Session, agency: Agency) -> MultiPolygon | None:
    if agency.area is not None:
        return _multi(to_shape(agency.area))
    return district_outline(session)


def _incident_extent(
    session: Session, *, agency: Agency, before: datetime, limits: Limits
) -> MultiPolygon:
    """The incidents' bounding box, clipped to the partnership's extent (a stray sea row once
    stretched it to 460 km)."""
    from shared.incidents.models import Incident

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


def view_list(session: Session, list_id: int) -> ListView:
    """A stored list with its boxes by rank and the number of visits logged per box."""
    lst = session.get(TargetList, list_id)
    if lst is None:
        raise NotFound(f"No target list {list_id}")
    agency = session.get(Agency, lst.agency_id)
    assert agency is not None
    boxes = list(
        session.scalars(
            select(TargetBox).where(TargetBox.list_id == lst.id).order_by(TargetBox.rank)
        )
    )
    counts = session.execute(
        select(Visit.cell_id, func.count())
        .where(Visit.agency_id == lst.agency_id, Visit.list_date == lst.list_date)
        .group_by(Visit.cell_id)
    ).all()
    return ListView(lst, agency, boxes, {c: int(n) for c, n in counts})


# ---------------------------------------------------------------------------------------------
# Visits
# ---------------------------------------------------------------------------------------------


def log_visit(
    session: Session,
    *,
    agency_code: str,
    day: date,
    cell_id: str,
    visited_at: datetime,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None = None,
) -> tuple[Visit, bool]:
    """Record a visit to a box of (agency, day)'s list: (visit, whether it is new)."""
    agency = find_agency(session, agency_code)
    lst = find_list(session, agency=agency, day=day)
    if lst is None:
        raise NoList(agency_code, day, list_dates(session, agency=agency))
    return _add_visit(
        session,
        lst=lst,
        cell_id=cell_id,
        visited_at=visited_at,
        crew=crew,
        notes=notes,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def log_visit_for_list(
    session: Session,
    *,
    list_id: int,
    cell_id: str,
    visited_at: datetime | None,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None = None,
) -> tuple[Visit, bool]:
    """Record a visit to box ``cell_id`` of list ``list_id``: (visit, whether it is new).

    ``visited_at`` None: now (the list page's "Visited now").
    """
    lst = session.get(TargetList, list_id)
    if lst is None:
        raise NotFound(f"No target list {list_id}")
    return _add_visit(
        session,
        lst=lst,
        cell_id=cell_id,
        visited_at=visited_at,
        crew=crew,
        notes=notes,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def _add_visit(
    session: Session,
    *,
    lst: TargetList,
    cell_id: str,
    visited_at: datetime | None,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None,
) -> tuple[Visit, bool]:
    """Add the visit unless this caller's key already did (either route): (visit, is new)."""
    now = datetime.now(UTC)
    key = scoped_key(actor, idempotency_key)
    by_key = select(Visit).where(Visit.idempotency_key == key)
    same: dict[str, Any] = {
        "agency_id": lst.agency_id,
        "list_date": lst.list_date,
        "cell_id": cell_id,
        "crew": crew.strip(),
        "notes": notes,
    }
    if visited_at is not None:
        # A repeat without a time ("now") matches any: the first was logged at its own now.
        same["visited_at"] = (
            visited_at if visited_at.tzinfo is not None else visited_at.replace(tzinfo=LONDON)
        )
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return replay(found, same, "visit"), False
    on_list = session.scalar(
        select(func.count())
        .select_from(TargetBox)
        .where(TargetBox.list_id == lst.id, TargetBox.cell_id == cell_id)
    )
    if not on_list:
        raise NotFound(f"Box {cell_id!r} is not on list {lst.id} ({lst.list_date})")
    at = same.get("visited_at", now)
    _check_visit_time(at, lst.list_date, now)
    fields = same | {"visited_at": at}
    visit = Visit(list_id=lst.id, logged_by=actor, idempotency_key=key, **fields)
    if not insert_once(session, visit, "uq_visits_idempotency_key"):
        # A concurrent retry with the same key got there first.
        return replay(session.scalars(by_key).one(), same, "visit"), False
    session.commit()
    return visit, True


def visit_window(day: date) -> tuple[datetime, datetime]:
    """When a visit to ``day``'s list may have happened: from the day before to the day after."""
    start = local_midnight(day - timedelta(days=VISIT_EARLY_DAYS))
    end = local_midnight(day + timedelta(days=1 + VISIT_LATE_DAYS))
    return start, end


def visit_window_open(day: date, now: datetime | None = None) -> bool:
    """Whether a visit made now could be logged against ``day``'s list."""
    start, end = visit_window(day)
    return start <= (now or datetime.now(UTC)) < end


def _check_visit_time(at: datetime, day: date, now: datetime) -> None:
    """InvalidInput (field visited_at) unless ``at`` is in the list's window and not ahead."""
    start, end = visit_window(day)
    if at > now + VISIT_CLOCK_SKEW:
        msg = f"visited_at is in the future (more than {VISIT_CLOCK_SKEW.seconds // 60} minutes)"
        raise InvalidInput(msg, errors=[{"field": "visited_at", "message": msg}])
    if not start <= at < end:
        fmt = "%Y-%m-%d %H:%M %Z"
        msg = (
            f"a visit to the list of {day.isoformat()} must be logged as made from "
            f"{start.astimezone(LONDON).strftime(fmt)} to {end.astimezone(LONDON).strftime(fmt)} "
            f"(the day before the list's date to the day after it); got "
            f"{at.astimezone(LONDON).strftime(fmt)}"
        )
        raise InvalidInput(msg, errors=[{"field": "visited_at", "message": msg}])


def _check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InvalidInput("'to' is before 'from'")
    if (date_to - date_from).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_RANGE_DAYS} days at a time")


def list_visits(
    session: Session, *, agency_code: str, date_from: date, date_to: date
) -> tuple[Agency, list[Visit]]:
    """Visits logged against (agency)'s lists dated ``date_from`` to ``date_to`` inclusive."""
    _check_range(date_from, date_to)
    agency = find_agency(session, agency_code)
    if agency is None:
        return _default_agency(agency_code), []
    rows = session.scalars(
        select(Visit)
        .where(
            Visit.agency_id == agency.id, Visit.list_date >= date_from, Visit.list_date <= date_to
        )
        .order_by(Visit.visited_at, Visit.id)
    )
    return agency, list(rows)


# ---------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Overlap of two box lists: |a & b| / |a | b| (1 for two empty lists)."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def diagnostics(
    session: Session, *, agency_code: str, date_from: date, date_to: date
) -> dict[str, Any]:
    """Visit coverage per list, boxes per ward, and day-to-day stability of stored lists."""
    _check_range(date_from, date_to)
    agency = find_agency(session, agency_code) or _default_agency(agency_code)
    lists = (
        []
        if agency.id is None
        else list(
            session.scalars(
                select(TargetList)
                .where(
                    TargetList.agency_id == agency.id,
                    TargetList.list_date >= date_from,
                    TargetList.list_date <= date_to,
                )
                .order_by(TargetList.list_date)
            )
        )
    )
    per_list: list[dict[str, Any]] = []
    wards: dict[str, int] = {}
    prev: tuple[date, list[str]] | None = None
    for lst in lists:
        view = view_list(session, lst.id)
        cells = [b.cell_id for b in view.boxes]
        visited = sum(1 for c in cells if view.visits.get(c))
        entry: dict[str, Any] = {
            "date": lst.list_date.isoformat(),
            "list_id": lst.id,
            "method": lst.method,
            "boxes": len(cells),
            "boxes_visited": visited,
            "visit_coverage": visited / len(cells) if cells else 0.0,
            "visits": sum(view.visits.values()),
            "jaccard_with_previous_day": None,
        }
        if prev is not None and (lst.list_date - prev[0]).days == 1:
            entry["jaccard_with_previous_day"] = jaccard(prev[1], cells)
        prev = (lst.list_date, cells)
        per_list.append(entry)
        for b in view.boxes:
            key = b.ward or "(outside the wards)"
            wards[key] = wards.get(key, 0) + 1
    jac = [
        e["jaccard_with_previous_day"]
        for e in per_list
        if e["jaccard_with_previous_day"] is not None
    ]
    cov = [e["visit_coverage"] for e in per_list]
    return {
        "agency": agency.code,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "lists": per_list,
        "ward_box_counts": dict(sorted(wards.items(), key=lambda kv: (-kv[1], kv[0]))),
        "mean_visit_coverage": float(np.mean(cov)) if cov else None,
        "mean_day_to_day_jaccard": float(np.mean(jac)) if jac else None,
    }


def generate_for_all(
    session: Session,
    *,
    day: date,
    generated_by: str = "nightly",
    force: bool = False,
    limits: Limits | None = None,
) -> list[tuple[str, int | None, bool]]:
    """Make (agency, day) lists for every agency: (code, list id or None, created) each.

    An agency whose list cannot be made (its area's grid over the cell limit, no area and no
    incidents) is logged and skipped, so it does not stop the others.
    """
    out: list[tuple[str, int | None, bool]] = []
    for agency in ensure_agencies(session):
        session.commit()
        try:
            view, created = get_or_create_list(
                session,
                agency_code=agency.code,
                day=day,
                generated_by=generated_by,
                force=force,
                limits=limits,
            )
        except (InvalidInput, GridTooLarge) as exc:
            session.rollback()
            log.error("no list for %s on %s: %s", agency.code, day, exc)
            out.append((agency.code, None, False))
            continue
        out.append((agency.code, view.target_list.id, created))
    return out
