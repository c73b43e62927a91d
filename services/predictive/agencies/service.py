"""Agencies and areas: the agencies' list settings and areas, the stored district and wards.

Keyword-only use cases, session first. Reading (``list_agencies``, ``find_agency``) never
writes; a default agency is stored on its first write (``get_agency``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.compute.areas import (
    BadArea,
    NamedArea,
    area_from_geojson,
    as_multipolygon,
    check_area_cells,
    read_areas,
    read_outline,
)
from services.predictive.compute.methods import default_methods
from services.predictive.limits import Limits, or_default
from services.predictive.models import Agency, Area
from shared.errors import InvalidInput, NotFound
from shared.extent import GridTooLarge, OutsideExtent, partnership_extent

DISTRICT_CODE = "E06000035"
DISTRICT_NAME = "Medway"


def default_agency(code: str) -> Agency:
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
            session.add(default_agency(code))
    session.flush()
    return list(session.scalars(select(Agency).order_by(Agency.code)))


def list_agencies(session: Session) -> list[Agency]:
    """Every agency by code; defaults not stored yet are shown with their settings, not stored."""
    stored = {a.code: a for a in session.scalars(select(Agency))}
    missing = {code: default_agency(code) for code in DEFAULTS if code not in stored}
    merged = stored | missing
    return [merged[code] for code in sorted(merged)]


def find_agency(session: Session, *, code: str) -> Agency | None:
    """The stored agency with ``code``, None for a known default not stored yet (no write)."""
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None and code not in DEFAULTS:
        raise NotFound(f"No agency {code!r}; known: {', '.join(sorted(DEFAULTS))}")
    return agency


def get_agency(session: Session, *, code: str) -> Agency:
    """The stored agency with ``code``; a default is created on first use (for writes only)."""
    agency = find_agency(session, code=code)
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
    lim = or_default(limits)
    if "method" in changes and changes["method"] not in default_methods.choices:
        raise InvalidInput(
            f"Unknown method {changes['method']!r}",
            errors=[{"field": "method", "message": "not a known method"}],
        )
    agency = get_agency(session, code=code)
    area: MultiPolygon | None = None
    if changes.get("area") is not None:
        area = _checked_area(changes["area"], lim)
    elif "area" not in changes and agency.area is not None:
        area = as_multipolygon(to_shape(agency.area))
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


def agency_area(session: Session, *, agency: Agency) -> MultiPolygon | None:
    """The agency's own area, else the district outline, else None (EPSG:27700)."""
    if agency.area is not None:
        return as_multipolygon(to_shape(agency.area))
    return district_outline(session)


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
    return None if row is None else as_multipolygon(to_shape(row.geom))


def ward_areas(session: Session) -> list[NamedArea]:
    """Every ward as a named EPSG:27700 polygon."""
    rows = session.scalars(select(Area).where(Area.kind == "ward").order_by(Area.name))
    return [NamedArea(r.code, r.name, to_shape(r.geom)) for r in rows]
