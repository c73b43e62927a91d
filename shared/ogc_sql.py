"""OGC API - Features sources read from one table: bbox, datetime, CQL2, sortby and crs in SQL.

A ``SqlTable`` says which columns are the id, the geometry (EPSG:27700), the published
properties and the queryables; ``SqlSource`` answers the core's ``ItemQuery`` on it. A checked
CQL2 tree (``shared.cql``) becomes a SQLAlchemy expression: every property is looked up in the
table's whitelist and every value is a bound parameter, so nothing a client sends is SQL text.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pygeofilter import ast, values
from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session

from shared.cql import BadFilter
from shared.geometry import BNG
from shared.ogc import (
    STORAGE_AREA,
    WGS84_SRID,
    Bbox,
    Interval,
    ItemQuery,
    clip_bbox,
    int_feature_id,
)

DECIMALS = {WGS84_SRID: 7, BNG: 2}  # about 1 cm either way
Scope = Callable[[Session, ItemQuery], Sequence[ColumnElement[bool]] | None]
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Equal: operator.eq,
    ast.NotEqual: operator.ne,
    ast.LessThan: operator.lt,
    ast.LessEqual: operator.le,
    ast.GreaterThan: operator.gt,
    ast.GreaterEqual: operator.ge,
}


@dataclass(frozen=True)
class SqlTable:
    """How the rows of one table become features, and which columns clients may query."""

    id: Any
    geom: Any
    properties: Mapping[str, Any]
    order_by: tuple[Any, ...]
    queryables: Mapping[str, Any] = field(default_factory=dict)
    filters: Mapping[str, Any] = field(default_factory=dict)
    temporal: Any = None
    scope: Scope | None = None  # conditions every query keeps (None from it: nothing matches)
    geometry_name: str = "geometry"

    def column(self, name: str) -> Any:
        """The column behind a queryable (the geometry's under ``geometry_name``)."""
        if name == self.geometry_name:
            return self.geom
        found = self.queryables.get(name)
        if found is None:  # the core checked it; a mismatch is a programming error
            raise BadFilter(f"{name!r} is not a queryable")
        return found


def bbox_conditions(geom: Any, bbox: Bbox, srid: int) -> list[ColumnElement[bool]]:
    """``geom`` (EPSG:27700) meets the box: an index test and the exact test.

    A CRS84 box is clipped to where EPSG:27700 is defined and tested in lon/lat (its edges
    curve in BNG); a box outside that area matches nothing.
    """
    if srid == BNG:
        env = func.ST_MakeEnvelope(*bbox, BNG)
        return [geom.op("&&")(env), func.ST_Intersects(geom, env)]
    clipped = clip_bbox(bbox)
    if clipped is None:
        return [false()]
    env = func.ST_MakeEnvelope(*clipped, WGS84_SRID)
    return [
        geom.op("&&")(func.ST_Transform(func.ST_Segmentize(env, 0.001), BNG)),
        func.ST_Intersects(func.ST_Transform(geom, WGS84_SRID), env),
    ]


def time_conditions(column: Any, interval: Interval) -> list[ColumnElement[bool]]:
    """``column`` inside the half-open [start, end)."""
    start, end = interval
    conds = []
    if start is not None:
        conds.append(column >= start)
    if end is not None:
        conds.append(column < end)
    return conds


def _geometry_param(geometry: Mapping[str, Any]) -> Any:
    """A CRS84 GeoJSON geometry, bound as text, cut to the storage CRS's area, in EPSG:27700."""
    shape = func.ST_SetSRID(func.ST_GeomFromGeoJSON(json.dumps(geometry)), WGS84_SRID)
    area = func.ST_MakeEnvelope(*STORAGE_AREA, WGS84_SRID)
    return func.ST_Transform(func.ST_Intersection(shape, area), BNG)


def cql_sql(node: Any, table: SqlTable) -> ColumnElement[bool]:
    """A checked CQL2 tree as a SQL condition on ``table`` (values bound, columns whitelisted)."""
    if isinstance(node, ast.And):
        return and_(cql_sql(node.lhs, table), cql_sql(node.rhs, table))
    if isinstance(node, ast.Or):
        return or_(cql_sql(node.lhs, table), cql_sql(node.rhs, table))
    if isinstance(node, ast.Not):
        return not_(cql_sql(node.sub_node, table))
    op = _OPS.get(type(node))
    if op is not None:
        return op(table.column(node.lhs.name), _value(node.rhs))  # type: ignore[no-any-return]
    col = table.column(node.lhs.name)
    cond: ColumnElement[bool]
    if isinstance(node, ast.Like):
        cond = col.like(node.pattern, escape="\\")
    elif isinstance(node, ast.In):
        cond = col.in_([_value(v) for v in node.sub_nodes])
    elif isinstance(node, ast.Between):
        cond = col.between(_value(node.low), _value(node.high))
    elif isinstance(node, ast.IsNull):
        cond = col.is_(None)
    elif isinstance(node, ast.GeometryIntersects) and isinstance(node.rhs, values.Geometry):
        cond = func.ST_Intersects(col, _geometry_param(node.rhs.geometry))
    else:
        raise BadFilter(f"{type(node).__name__} is not supported")
    return not_(cond) if getattr(node, "not_", False) else cond


def _value(v: Any) -> Any:
    """A literal of the tree as a Python value SQLAlchemy binds (timestamps keep their zone)."""
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v
    return v


class SqlSource:
    """The features of a ``SqlTable`` for the OGC routes (``shared.ogc.FeatureSource``)."""

    def __init__(self, table: SqlTable) -> None:
        self.table = table

    def _select(self, srid: int) -> Any:
        t = self.table
        geom = t.geom if srid == BNG else func.ST_Transform(t.geom, WGS84_SRID)
        gj = func.ST_AsGeoJSON(geom, DECIMALS[srid]).label("_geometry")
        return select(t.id.label("_id"), gj, *(c.label(n) for n, c in t.properties.items()))

    def _feature(self, r: Any) -> dict[str, Any]:
        m = r._mapping
        props = {}
        for n in self.table.properties:
            value = m[n]
            props[n] = value.isoformat() if hasattr(value, "isoformat") else value
        return {
            "type": "Feature",
            "id": m["_id"],
            "geometry": json.loads(m["_geometry"]) if m["_geometry"] else None,
            "properties": props,
        }

    def conditions(self, session: Session, q: ItemQuery) -> list[ColumnElement[bool]] | None:
        """Every condition of the query (None: nothing can match)."""
        t = self.table
        scoped = t.scope(session, q) if t.scope else ()
        if scoped is None:
            return None
        conds = list(scoped)
        for name, vals in q.filters.items():
            col = t.filters.get(name, t.queryables.get(name))
            if col is not None:
                conds.append(col.in_(vals))
        if q.bbox is not None:
            conds.extend(bbox_conditions(t.geom, q.bbox, q.bbox_srid))
        if q.datetime is not None and t.temporal is not None:
            conds.extend(time_conditions(t.temporal, q.datetime))
        if q.cql is not None:
            conds.append(cql_sql(q.cql, t))
        return conds

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features in the asked order (then the table's), and how many match."""
        t = self.table
        conds = self.conditions(session, q)
        if conds is None:
            return [], 0
        count = select(func.count()).select_from(t.id.class_).where(*conds)
        matched = int(session.scalar(count) or 0)
        order = [
            (t.column(n).desc() if desc else t.column(n).asc()).nulls_last() for n, desc in q.sortby
        ]
        page = self._select(q.srid).where(*conds).order_by(*order, *t.order_by, t.id)
        rows = session.execute(page.limit(q.limit).offset(q.offset))
        return [self._feature(r) for r in rows], matched

    def get(
        self, session: Session, feature_id: str, srid: int = WGS84_SRID
    ) -> dict[str, Any] | None:
        """One feature by id within the table's scope, or None."""
        row_id = int_feature_id(feature_id)
        if row_id is None:
            return None
        scoped = self.table.scope(session, ItemQuery()) if self.table.scope else ()
        if scoped is None:
            return None
        stmt = self._select(srid).where(self.table.id == row_id, *scoped)
        r = session.execute(stmt).first()
        return None if r is None else self._feature(r)

    def extent(self, session: Session) -> Bbox | None:
        """The WGS84 bbox of the features in scope."""
        scoped = self.table.scope(session, ItemQuery()) if self.table.scope else ()
        if scoped is None:
            return None
        box = func.ST_Extent(func.ST_Transform(self.table.geom, WGS84_SRID))
        q = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
        r = session.execute(q.where(*scoped)).first()
        if r is None or r[0] is None:
            return None
        return (float(r[0]), float(r[1]), float(r[2]), float(r[3]))

    def temporal_extent(self, session: Session) -> Interval | None:
        """The first and last time of the features in scope (None: no time column)."""
        t = self.table
        if t.temporal is None:
            return None
        scoped = t.scope(session, ItemQuery()) if t.scope else ()
        if scoped is None:
            return None
        r = session.execute(select(func.min(t.temporal), func.max(t.temporal)).where(*scoped))
        lo, hi = r.one()
        return (_as_datetime(lo), _as_datetime(hi))


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)
