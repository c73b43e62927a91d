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
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from services.predictive.agencies import DEFAULTS, METHOD_CHOICES
from services.predictive.areas import (
    NamedArea,
    area_grid,
    read_areas,
    read_outline,
    ward_of_points,
)
from services.predictive.models import Agency, Area, TargetBox, TargetList, Visit
from shared.errors import InvalidInput, NotFound
from shared.grid import Grid
from shared.idempotency import insert_once, replay, scoped_key

log = logging.getLogger("csp.predictive")
LONDON = ZoneInfo("Europe/London")
DISTRICT_CODE = "E06000035"
DISTRICT_NAME = "Medway"
GENERATORS = ("nightly", "on_demand", "cli", "demo")
MAX_RANGE_DAYS = 366
TRAINING_DAYS = 365
STALE_DAYS = 60


# ---------------------------------------------------------------------------------------------
# Agencies and boundaries
# ---------------------------------------------------------------------------------------------


def ensure_agencies(session: Session) -> list[Agency]:
    """Create the default agencies that are missing; returns every agency."""
    existing = {a.code for a in session.scalars(select(Agency))}
    for code, d in DEFAULTS.items():
        if code not in existing:
            session.add(
                Agency(
                    code=d.code,
                    name=d.name,
                    categories=list(d.categories),
                    boxes_per_day=d.boxes_per_day,
                    shift_start_hour=d.shift_start_hour,
                    shift_length_hours=d.shift_length_hours,
                    cell_size_m=d.cell_size_m,
                    method=d.method,
                )
            )
    session.flush()
    return list_agencies(session)


def list_agencies(session: Session) -> list[Agency]:
    """Every agency, by code."""
    return list(session.scalars(select(Agency).order_by(Agency.code)))


def get_agency(session: Session, code: str) -> Agency:
    """The agency with ``code``; the defaults are created on first use."""
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None and code in DEFAULTS:
        ensure_agencies(session)
        agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        raise NotFound(f"No agency {code!r}; known: {', '.join(sorted(DEFAULTS))}")
    return agency


def update_agency(session: Session, *, code: str, changes: dict[str, Any]) -> Agency:
    """Change an agency's settings (fields as in the table; ``area`` as EPSG:27700 shapely)."""
    agency = get_agency(session, code)
    if "method" in changes and changes["method"] not in METHOD_CHOICES:
        raise InvalidInput(
            f"Unknown method {changes['method']!r}",
            errors=[{"field": "method", "message": "not a known method"}],
        )
    for key, value in changes.items():
        if key == "area":
            value = None if value is None else from_shape(_multi(value), srid=27700)
        setattr(agency, key, value)
    session.commit()
    return agency


def _multi(geom: Any) -> MultiPolygon:
    from services.predictive.areas import as_multipolygon

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


def find_list(session: Session, *, agency: Agency, day: date) -> TargetList | None:
    """The stored list of ``agency`` for ``day``, if any."""
    return session.scalars(
        select(TargetList).where(TargetList.agency_id == agency.id, TargetList.list_date == day)
    ).first()


def get_or_create_list(
    session: Session,
    *,
    agency_code: str,
    day: date,
    generated_by: str = "on_demand",
    force: bool = False,
) -> tuple[ListView, bool]:
    """The list for (agency, day), generated from incidents before ``day`` when missing.

    Idempotent: an existing list is returned untouched unless ``force``; then it is refitted in
    place (same id, so visits keep their link). Returns (view, created_or_replaced).
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
    lst = _generate(session, agency=agency, day=day, generated_by=generated_by, into=existing)
    session.commit()
    return view_list(session, lst.id), True


def _training_events(session: Session, *, agency: Agency, grid: Grid, before: datetime) -> Any:
    from services.predictive.compute.methods import Events
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
    session: Session, *, agency: Agency, day: date, generated_by: str, into: TargetList | None
) -> TargetList:
    """Fit on incidents before ``day`` and store the top boxes (replacing ``into``'s boxes)."""
    from services.predictive.selection import forecast, ranked_cells

    area = _agency_area(session, agency)
    warnings: list[str] = []
    trained_before = local_midnight(day)
    if area is None:
        area = _incident_extent(session, agency=agency, before=trained_before)
        warnings.append("no partnership area is loaded: boxes cover the incidents' extent")
    grid, mask = area_grid(area, agency.cell_size_m)
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


def _incident_extent(session: Session, *, agency: Agency, before: datetime) -> MultiPolygon:
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
    return MultiPolygon([box(*nums).buffer(1.0, join_style="mitre")])


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
    agency = get_agency(session, agency_code)
    lst = find_list(session, agency=agency, day=day)
    if lst is None:
        raise NotFound(f"No list for {agency_code} on {day}; open the list before logging visits")
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
    if at > now + timedelta(minutes=10):
        raise InvalidInput(
            "visited_at is in the future",
            errors=[{"field": "visited_at", "message": "in the future"}],
        )
    fields = same | {"visited_at": at}
    visit = Visit(list_id=lst.id, logged_by=actor, idempotency_key=key, **fields)
    if not insert_once(session, visit, "uq_visits_idempotency_key"):
        # A concurrent retry with the same key got there first.
        return replay(session.scalars(by_key).one(), same, "visit"), False
    session.commit()
    return visit, True


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
    agency = get_agency(session, agency_code)
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
    agency = get_agency(session, agency_code)
    lists = list(
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
    session: Session, *, day: date, generated_by: str = "nightly", force: bool = False
) -> list[tuple[str, int, bool]]:
    """Make (agency, day) lists for every agency; returns (code, list id, created) each."""
    out = []
    for agency in ensure_agencies(session):
        session.commit()
        view, created = get_or_create_list(
            session, agency_code=agency.code, day=day, generated_by=generated_by, force=force
        )
        out.append((agency.code, view.target_list.id, created))
    return out


def shapely_area(geom: Any) -> MultiPolygon:
    """An EPSG:27700 polygon (shapely) as a MultiPolygon for an agency's area."""
    return _multi(shapely.make_valid(geom))
