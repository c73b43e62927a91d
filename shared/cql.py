"""CQL2 filters (OGC API - Features Part 3): parsed by pygeofilter, checked here before any SQL.

Text (``filter-lang=cql2-text``) and JSON (``cql2-json``) are parsed with pygeofilter into its
AST; this module then walks the tree once and refuses what the suite does not run: properties
that are not queryables, operators outside comparisons, AND/OR/NOT, LIKE, IN, BETWEEN, IS NULL
and S_INTERSECTS, values of the wrong type, and anything too big (text length, nodes, depth,
IN lists, geometry vertices). What passes is translated to SQL with bound parameters only
(``shared.ogc_sql``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from shared.errors import AppError

MAX_FILTER_CHARS = 8000
MAX_NODES = 200
MAX_DEPTH = 20
MAX_IN_VALUES = 200
MAX_VERTICES = 2000
QUERYABLE_TYPES = ("string", "number", "integer", "datetime", "geometry")
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text")
# "cql-text" is the name the Part 3 drafts gave it, which GDAL 3.6 sends; its basic
# comparisons, AND/OR/NOT, LIKE, IN, BETWEEN and IS NULL are CQL2 text's.
COMPARISONS = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}


class BadFilter(AppError):
    """A CQL2 filter the API cannot run (400, as OGC API - Features Part 3 requires)."""

    status, title, slug = 400, "Invalid filter", "invalid-filter"


@dataclass(frozen=True)
class Queryable:
    """A property a client may filter and sort on: its JSON Schema type and description."""

    name: str
    type: str
    description: str
    enum: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in QUERYABLE_TYPES:
            raise ValueError(f"queryable type {self.type!r} is not one of {QUERYABLE_TYPES}")

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this queryable (the queryables document's property)."""
        if self.type == "geometry":
            return {"title": self.description, "format": "geometry-any"}
        out: dict[str, Any] = {"title": self.description}
        if self.type == "datetime":
            out.update(type="string", format="date-time")
        else:
            out["type"] = self.type
        if self.enum:
            out["enum"] = list(self.enum)
        return out


def parse_filter(text: str, lang: str | None, queryables: dict[str, Queryable]) -> ast.Node:
    """Parse and check a CQL2 filter; BadFilter says what is wrong."""
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise BadFilter(
            f"filter-lang={lang!r} is not offered; use one of {', '.join(FILTER_LANGS)}"
        )
    if len(text) > MAX_FILTER_CHARS:
        raise BadFilter(f"The filter is {len(text)} characters; the limit is {MAX_FILTER_CHARS}")
    try:
        node = parse_cql2_json(json.loads(text)) if lang == "cql2-json" else parse_cql2_text(text)
    except Exception as exc:  # lark and json raise many kinds; all are the client's syntax
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise BadFilter(f"The filter is not valid {lang}: {first}") from None
    _Checker(queryables).check(node, 1)
    return node  # type: ignore[no-any-return]


class _Checker:
    """One walk over the tree: allowed operators, known properties, typed values, sizes."""

    def __init__(self, queryables: dict[str, Queryable]) -> None:
        self.queryables = queryables
        self.nodes = 0

    def check(self, node: Any, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise BadFilter(f"The filter has more than {MAX_NODES} terms")
        if depth > MAX_DEPTH:
            raise BadFilter(f"The filter is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.And | ast.Or):
            self.check(node.lhs, depth + 1)
            self.check(node.rhs, depth + 1)
        elif isinstance(node, ast.Not):
            self.check(node.sub_node, depth + 1)
        elif type(node) in COMPARISONS:
            q = self.attribute(node.lhs)
            node.rhs = self.value(q, node.rhs)
        elif isinstance(node, ast.Like):
            q = self.attribute(node.lhs)
            if q.type != "string" or not isinstance(node.pattern, str):
                raise BadFilter(f"LIKE needs a text queryable and a text pattern ({q.name})")
        elif isinstance(node, ast.In):
            q = self.attribute(node.lhs)
            if len(node.sub_nodes) > MAX_IN_VALUES:
                raise BadFilter(f"IN lists at most {MAX_IN_VALUES} values")
            node.sub_nodes = [self.value(q, v) for v in node.sub_nodes]
        elif isinstance(node, ast.Between):
            q = self.attribute(node.lhs)
            node.low, node.high = self.value(q, node.low), self.value(q, node.high)
        elif isinstance(node, ast.IsNull):
            self.attribute(node.lhs)
        elif isinstance(node, ast.GeometryIntersects):
            q = self.attribute(node.lhs)
            if q.type != "geometry" or not isinstance(node.rhs, values.Geometry):
                raise BadFilter("S_INTERSECTS needs the geometry queryable and a geometry")
            vertices = json.dumps(node.rhs.geometry).count("[")
            if vertices > MAX_VERTICES:
                raise BadFilter(f"The filter's geometry has over {MAX_VERTICES} vertices")
        else:
            raise BadFilter(
                f"{type(node).__name__} is not supported; use comparisons, AND, OR, NOT, LIKE, "
                "IN, BETWEEN, IS NULL and S_INTERSECTS"
            )

    def attribute(self, node: Any) -> Queryable:
        if not isinstance(node, ast.Attribute):
            raise BadFilter("The left side of each condition must be a queryable property")
        found = self.queryables.get(node.name)
        if found is None:
            raise BadFilter(
                f"{node.name!r} is not a queryable; this collection offers "
                + ", ".join(sorted(self.queryables))
            )
        return found

    def value(self, q: Queryable, v: Any) -> Any:
        """``v`` checked against the queryable's type (ISO text for a time becomes a time)."""
        if q.type == "datetime" and isinstance(v, str):
            v = _iso_time(v, q.name)
        ok = {
            "string": isinstance(v, str),
            "number": isinstance(v, int | float) and not isinstance(v, bool),
            "integer": isinstance(v, int) and not isinstance(v, bool),
            "datetime": isinstance(v, datetime | date),
            "geometry": False,
        }[q.type]
        if not ok:
            raise BadFilter(f"{q.name} is a {q.type}; {v!r} cannot be compared with it")
        if q.enum and isinstance(v, str) and v not in q.enum:
            raise BadFilter(f"{q.name} is one of {', '.join(q.enum)}; not {v!r}")
        return v


def _iso_time(text: str, name: str) -> datetime:
    """An ISO 8601 date or date-time given as text (as GDAL sends them), UTC if no offset."""
    clean = text.strip()
    if clean.endswith("T"):  # GDAL 3.6 writes a date as "2019-01-01T"
        clean = clean[:-1]
    try:
        when = datetime.fromisoformat(clean.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(
            f"{name} is a time; {text!r} is not an ISO 8601 date or date-time"
        ) from None
    try:
        utc = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not (1900 <= utc.year <= 2100):
        raise BadFilter(f"{name} is a time; {text!r} is outside the years 1900 to 2100")
    return utc
