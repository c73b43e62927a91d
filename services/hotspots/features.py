"""Feature sources of the OGC API read from one table each, described by a ``FeatureTable``:
which columns are the id, the geometry and the properties, the order, and which property
filters match which column. ``TableSource`` answers paged, filtered queries on it.

Geometry is stored in EPSG:27700 and returned as CRS84 GeoJSON (7 decimals, about 1 cm).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from shared.ogc import ItemQuery, int_feature_id

WGS84 = 4326
BNG = 27700
DECIMALS = 7
Column = QueryableAttribute[Any]
Bbox = tuple[float, float, float, float]
# The conditions a query is limited to (a run's polygons), or None when nothing can match.
Scope = Callable[[Session, ItemQuery], Sequence[ColumnElement[bool]] | None]


@dataclass(frozen=True)
class FeatureTable:
    """How the rows of one table become GeoJSON features."""

    id: Column
    geom: Column
    properties: Mapping[str, Column]
    order_by: tuple[Column, ...]
    filters: Mapping[str, Column] = field(default_factory=dict)


def in_bbox(geom: Column, bbox: Bbox) -> ColumnElement[bool]:
    """``geom`` (EPSG:27700) meets the WGS84 ``bbox`` projected to the British National Grid."""
    return func.ST_Intersects(geom, func.ST_Transform(func.ST_MakeEnvelope(*bbox, WGS84), BNG))


def extent_wgs84(session: Session, geom: Column, *where: ColumnElement[bool]) -> Bbox | None:
    """The WGS84 bbox of ``geom`` over the rows matching ``where``, or None without rows."""
    box = func.ST_Extent(func.ST_Transform(geom, WGS84))
    q = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    r = session.execute(q.where(*where)).first()
    if r is None or r[0] is None:
        return None
    return (float(r[0]), float(r[1]), float(r[2]), float(r[3]))


class TableSource:
    """The features of a ``FeatureTable``, optionally limited by a ``Scope`` of the query."""

    def __init__(self, table: FeatureTable, *, scope: Scope | None = None) -> None:
        self.table = table
        self.scope = scope

    def _select(self) -> Any:
        t = self.table
        gj = func.ST_AsGeoJSON(func.ST_Transform(t.geom, WGS84), DECIMALS).label("_geometry")
        return select(t.id.label("_id"), gj, *(c.label(n) for n, c in t.properties.items()))

    def _feature(self, r: Any) -> dict[str, Any]:
        m = r._mapping
        return {
            "type": "Feature",
            "id": m["_id"],
            "geometry": json.loads(m["_geometry"]),
            "properties": {n: m[n] for n in self.table.properties},
        }

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features in the table's order, and how many match."""
        t = self.table
        scoped = self.scope(session, q) if self.scope else ()
        if scoped is None:
            return [], 0
        conds = [*scoped, *(t.filters[n].in_(v) for n, v in q.filters.items() if n in t.filters)]
        if q.bbox:
            conds.append(in_bbox(t.geom, q.bbox))
        count = select(func.count()).select_from(t.id.class_).where(*conds)
        matched = int(session.scalar(count) or 0)
        page = self._select().where(*conds).order_by(*t.order_by).limit(q.limit).offset(q.offset)
        return [self._feature(r) for r in session.execute(page)], matched

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One feature by id (any id, in scope or not), or None."""
        row_id = int_feature_id(feature_id)
        if row_id is None:
            return None
        r = session.execute(self._select().where(self.table.id == row_id)).first()
        return None if r is None else self._feature(r)

    def extent(self, session: Session) -> Bbox | None:
        """The WGS84 bbox of every row of the table."""
        return extent_wgs84(session, self.table.geom)
