"""OGC API - Features (Parts 1, 2 and 3 basic), the framework-free core.

A service describes each collection with a ``Collection`` (id, title, filters) and a
``FeatureSource`` that answers paged, filtered queries with RFC 7946 GeoJSON features in WGS84
(CRS84, lon/lat). Query parameters are parsed and checked here, once, so every collection pages
and filters the same way; bad ones are ``BadQuery`` (400 problem+json, as the standard asks).
The documents (landing page, collections, feature collections with paging links) are built here
too; ``shared.web.ogc`` turns collections into routes.

A bbox is clipped to the area where the storage CRS (EPSG:27700) is valid before any source sees
it: clients send world or continental extents, which PostGIS cannot project to the British
National Grid (it was a 500, or silently no features). A box outside that area matches nothing.

Part 2: ``crs`` and ``bbox-crs`` take CRS84 or EPSG:27700 (the storage CRS). Part 3: ``filter``
(CQL2 text or JSON, checked by ``shared.cql``), ``/queryables``; ``datetime`` and ``sortby``
on every collection that declares a time and queryables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pyproj import CRS

from shared.cql import FILTER_LANGS, Queryable, parse_filter
from shared.errors import AppError
from shared.geometry import BNG

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG27700 = "http://www.opengis.net/def/crs/EPSG/0/27700"
WGS84_SRID = 4326
# The CRSs offered (URI -> SRID); a short "EPSG:27700" is accepted too.
CRS_SRIDS = {CRS84: WGS84_SRID, EPSG27700: BNG}
GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    # OGC API - Tiles (shared.web.tiles): vector tilesets in Mapbox Vector Tiles.
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)
MAX_SORT_KEYS = 5
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_JSON = "application/schema+json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
COMMON_PARAMS = frozenset({"f", "limit", "offset", "bbox", "bbox-crs", "crs"})
QUERY_PARAMS = frozenset({"datetime", "filter", "filter-lang", "filter-crs", "sortby"})
WORLD = (-180.0, -90.0, 180.0, 90.0)
Bbox = tuple[float, float, float, float]


def _area_of_use(epsg: int) -> Bbox:
    area = CRS.from_epsg(epsg).area_of_use
    assert area is not None
    return (float(area.west), float(area.south), float(area.east), float(area.north))


# Where EPSG:27700 is defined (lon/lat): -9.01, 49.75, 2.01, 61.01.
STORAGE_AREA: Bbox = _area_of_use(BNG)


class BadQuery(AppError):
    """A query parameter the OGC API cannot use (400, as OGC API - Features requires)."""

    status, title, slug = 400, "Invalid query parameter", "invalid-query-parameter"


@dataclass(frozen=True)
class Filter:
    """A property filter exposed as a query parameter; ``values`` lists the allowed ones."""

    name: str
    description: str
    values: tuple[str, ...] | None = None


Interval = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class ItemQuery:
    """A parsed items request.

    ``bbox`` is WGS84 lon/lat unless ``bbox_srid`` is 27700 (eastings, northings); ``srid`` is
    the CRS of the answer; ``datetime`` a half-open [start, end) (None: open end); ``cql`` a
    checked pygeofilter tree; ``sortby`` (queryable, descending) pairs.
    """

    bbox: tuple[float, float, float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bbox_srid: int = WGS84_SRID
    srid: int = WGS84_SRID
    datetime: Interval | None = None
    cql: Any = None
    sortby: tuple[tuple[str, bool], ...] = ()


class FeatureSource(Protocol):
    """Where a collection's features come from; features are GeoJSON dicts in CRS84."""

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features and the number matched by the filters."""
        ...

    def get(
        self, session: Session, feature_id: str, srid: int = WGS84_SRID
    ) -> dict[str, Any] | None:
        """One feature by id in the CRS ``srid``, or None."""
        ...

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """The WGS84 bbox of all features, or None when there are none."""
        ...


@dataclass(frozen=True)
class Collection:
    """One feature collection: id, titles, keywords, filters and its source."""

    id: str
    title: str
    description: str
    source: FeatureSource
    filters: tuple[Filter, ...] = ()
    keywords: tuple[str, ...] = ()
    queryables: tuple[Queryable, ...] = ()
    # The queryable holding the feature's time (``datetime`` matches it); None: no time.
    temporal: str | None = None

    @property
    def queryable_map(self) -> dict[str, Queryable]:
        """The queryables by name."""
        return {q.name: q for q in self.queryables}


MAX_FEATURE_ID = 2**31 - 1  # ids are PostgreSQL integers


def int_feature_id(feature_id: str) -> int | None:
    """A feature id as an int4, or None when it cannot be one.

    ASCII digits only ("²" and "٣٣" are digits to ``str.isdigit`` but not to PostgreSQL), and
    the length is checked before ``int()`` (which refuses over 4,300 digits).
    """
    if not (feature_id.isascii() and feature_id.isdigit()) or len(feature_id) > 10:
        return None
    value = int(feature_id)
    return value if value <= MAX_FEATURE_ID else None


def clip_bbox(bbox: Bbox, area: Bbox = STORAGE_AREA) -> Bbox | None:
    """``bbox`` cut to ``area`` (both lon/lat), or None when they do not overlap."""
    minx, miny = max(bbox[0], area[0]), max(bbox[1], area[1])
    maxx, maxy = min(bbox[2], area[2]), min(bbox[3], area[3])
    if minx > maxx or miny > maxy:
        return None
    return minx, miny, maxx, maxy


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """Parse ``minlon,minlat,maxlon,maxlat`` (a 6-number bbox drops its heights)."""
    try:
        nums = [float(p) for p in raw.split(",")]
    except ValueError:
        raise BadQuery(f"bbox must be four comma-separated numbers, got {raw!r}") from None
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or not all(math.isfinite(n) for n in nums):
        raise BadQuery(f"bbox must be minlon,minlat,maxlon,maxlat, got {raw!r}")
    minx, miny, maxx, maxy = nums
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadQuery(f"bbox {raw!r} is outside CRS84 (lon -180..180, lat -90..90) or inverted")
    if minx > maxx:
        raise BadQuery("bbox crossing the antimeridian is not supported")
    return minx, miny, maxx, maxy


def _int_param(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw!r}") from None
    if value < lo:
        raise BadQuery(f"{name} must be at least {lo}, got {value}")
    return min(value, hi)


def parse_crs(raw: str | None, name: str) -> int:
    """The SRID of a ``crs``/``bbox-crs`` value: CRS84 (default) or EPSG:27700."""
    if raw is None or raw == "":
        return WGS84_SRID
    value = raw.strip().strip("<>")
    if value.upper() == "EPSG:27700":
        value = EPSG27700
    srid = CRS_SRIDS.get(value)
    if srid is None:
        raise BadQuery(f"{name}={raw!r} is not offered; use one of {', '.join(CRS_SRIDS)}")
    return srid


def crs_uri(srid: int) -> str:
    """The OGC URI of an SRID this API offers."""
    return next(uri for uri, s in CRS_SRIDS.items() if s == srid)


def parse_bbox_in(raw: str, srid: int) -> Bbox:
    """A bbox in CRS84 (``parse_bbox``) or in EPSG:27700 metres (minE,minN,maxE,maxN)."""
    if srid == WGS84_SRID:
        return parse_bbox(raw)
    try:
        nums = [float(p) for p in raw.split(",")]
    except ValueError:
        raise BadQuery(f"bbox must be four comma-separated numbers, got {raw!r}") from None
    if len(nums) != 4 or not all(math.isfinite(n) for n in nums):
        raise BadQuery(f"bbox in EPSG:27700 must be minE,minN,maxE,maxN, got {raw!r}")
    minx, miny, maxx, maxy = nums
    if minx > maxx or miny > maxy:
        raise BadQuery(f"bbox {raw!r} is inverted (min above max)")
    if not (-1e6 <= minx and maxx <= 2e6 and -1e6 <= miny and maxy <= 2e6):
        raise BadQuery(f"bbox {raw!r} is far outside the British National Grid")
    return minx, miny, maxx, maxy


# Times the data can hold: anything outside is a mistake, said so before any arithmetic (a day
# after 9999-12-31 overflows; a far offset puts the instant in another year).
YEARS = (1900, 2100)


def in_years(when: datetime, text: str) -> datetime:
    """``when`` in UTC, or BadQuery when it lies outside YEARS."""
    try:
        utc = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not (YEARS[0] <= utc.year <= YEARS[1]):
        raise BadQuery(f"datetime {text!r} is outside the years {YEARS[0]} to {YEARS[1]}")
    return utc


def _instant(text: str, *, end: bool) -> datetime:
    """One end of a datetime value: RFC 3339 date-time (UTC if no offset) or a whole date."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = in_years(datetime(day.year, day.month, day.day, tzinfo=UTC), text)
            return start + timedelta(days=1) if end else start
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadQuery(
            f"datetime {text!r} is not an RFC 3339 date-time or date (2022-03-01T00:00:00Z)"
        ) from None
    return in_years(when, text)


def parse_datetime(raw: str) -> Interval:
    """``datetime``: an instant, ``start/end``, or an open end (``../end``, ``start/..``).

    Returns a half-open [start, end); an instant is a one-day interval if a date, else a point
    (end just after it).
    """
    text = raw.strip()
    if len(text) > 80:
        raise BadQuery("datetime is too long for an instant or an interval")
    if "/" not in text:
        start = _instant(text, end=False)
        stop = _instant(text, end=True) if len(text) == 10 else start + timedelta(microseconds=1)
        return start, stop
    left, _, right = text.partition("/")
    lo = None if left in ("", "..") else _instant(left, end=False)
    hi = None if right in ("", "..") else _instant(right, end=True)
    if len(right) > 10 and hi is not None:
        hi = hi + timedelta(microseconds=1)  # a date-time end is inclusive
    if lo is None and hi is None:
        raise BadQuery("datetime '../..' has no end; give a start, an end or both")
    if lo is not None and hi is not None and lo >= hi:
        raise BadQuery(f"datetime {raw!r} ends before it starts")
    return lo, hi


def parse_sortby(raw: str, collection: Collection) -> tuple[tuple[str, bool], ...]:
    """``sortby=+a,-b``: queryables only (not the geometry), at most MAX_SORT_KEYS."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if len(keys) > MAX_SORT_KEYS:
        raise BadQuery(f"sortby takes at most {MAX_SORT_KEYS} properties")
    sortable = {q.name for q in collection.queryables if q.type != "geometry"}
    out = []
    for key in keys:
        desc = key.startswith("-")
        name = key.lstrip("+-").strip()
        if name not in sortable:
            raise BadQuery(
                f"sortby {name!r} is not sortable; choose from {', '.join(sorted(sortable))}"
            )
        out.append((name, desc))
    return tuple(out)


def _accepted(collection: Collection) -> frozenset[str]:
    known = set(COMMON_PARAMS) | {f.name for f in collection.filters}
    if collection.queryables:
        known |= QUERY_PARAMS - ({"datetime"} if collection.temporal is None else set())
        # Part 3 "queryables as query parameters": name=value for a text or number queryable
        known |= {q.name for q in collection.queryables if q.type in ("string", "integer")}
    elif collection.temporal is not None:
        known.add("datetime")
    return frozenset(known)


def parse_item_query(params: Mapping[str, str], collection: Collection) -> ItemQuery:
    """Check and parse an items request's query string for ``collection``."""
    known = _accepted(collection)
    unknown = sorted(set(params) - known)
    if unknown:
        hint = "; it has no time, so no datetime" if "datetime" in unknown else ""
        raise BadQuery(
            f"Unknown query parameter(s) {', '.join(unknown)}; this collection accepts "
            + ", ".join(sorted(known))
            + hint
        )
    fmt = params.get("f")
    if fmt not in (None, "", "json", "geojson"):
        raise BadQuery(f"f={fmt!r} is not offered; use f=json")
    filters = _property_filters(params, collection)
    bbox_srid = parse_crs(params.get("bbox-crs"), "bbox-crs")
    bbox = params.get("bbox")
    filter_crs = parse_crs(params.get("filter-crs"), "filter-crs")
    if filter_crs != WGS84_SRID:
        raise BadQuery("filter-crs: geometries in a filter are CRS84 only")
    raw_filter = params.get("filter")
    cql = None
    if raw_filter:
        cql = parse_filter(raw_filter, params.get("filter-lang"), collection.queryable_map)
    elif params.get("filter-lang") not in (None, "", *FILTER_LANGS):
        raise BadQuery(f"filter-lang must be one of {', '.join(FILTER_LANGS)}")
    when = params.get("datetime")
    return ItemQuery(
        bbox=parse_bbox_in(bbox, bbox_srid) if bbox else None,
        bbox_srid=bbox_srid,
        srid=parse_crs(params.get("crs"), "crs"),
        limit=_int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_int_param(params, "offset", 0, 0, 10**9),
        filters=filters,
        datetime=parse_datetime(when) if when else None,
        cql=cql,
        sortby=parse_sortby(params.get("sortby") or "", collection),
    )


def _whole(value: str) -> bool:
    """A whole number in ASCII digits (str.isdigit() takes other scripts' digits, such as "٣٣",
    which the database refuses as an integer)."""
    digits = value.removeprefix("-")
    return digits.isascii() and digits.isdigit() and len(value) < 12


def _property_filters(
    params: Mapping[str, str], collection: Collection
) -> dict[str, tuple[str, ...]]:
    """The collection's own filter parameters and queryables given as ``name=value``."""
    filters: dict[str, tuple[str, ...]] = {}
    types = {q.name: q.type for q in collection.queryables}
    for flt in collection.filters:
        raw = params.get(flt.name)
        if not raw:
            continue
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        if types.get(flt.name) == "integer" and not all(_whole(v) for v in values):
            raise BadQuery(f"{flt.name} is an integer; got {raw!r}")
        bad = [v for v in values if flt.values is not None and v not in flt.values]
        if bad:
            raise BadQuery(
                f"{flt.name}={','.join(bad)} is not allowed; choose from "
                + ", ".join(flt.values or ())
            )
        filters[flt.name] = values
    for q in collection.queryables:
        raw = params.get(q.name)
        if not raw or q.name in filters or q.type not in ("string", "integer"):
            continue
        values = tuple(v.strip() for v in raw.split(",") if v.strip())[:MAX_LIMIT]
        if q.type == "integer" and not all(_whole(v) for v in values):
            raise BadQuery(f"{q.name} is an integer; got {raw!r}")
        if q.enum and any(v not in q.enum for v in values):
            raise BadQuery(f"{q.name} is one of {', '.join(q.enum)}; got {raw!r}")
        filters[q.name] = values
    return filters
