"""OGC API - Features (Part 1: Core, GeoJSON, OAS 3.0), the framework-free core.

A service describes each collection with a ``Collection`` (id, title, filters) and a
``FeatureSource`` that answers paged, filtered queries with RFC 7946 GeoJSON features in WGS84
(CRS84, lon/lat). Query parameters are parsed and checked here, once, so every collection pages
and filters the same way; bad ones are ``BadQuery`` (400 problem+json, as the standard asks).
The documents (landing page, collections, feature collections with paging links) are built here
too; ``shared.web.ogc`` turns collections into routes.

A bbox is clipped to the area where the storage CRS (EPSG:27700) is valid before any source sees
it: clients send world or continental extents, which PostGIS cannot project to the British
National Grid (it was a 500, or silently no features). A box outside that area matches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from pyproj import CRS

from shared.errors import AppError
from shared.geometry import BNG

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
COMMON_PARAMS = frozenset({"f", "limit", "offset", "bbox"})
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


@dataclass(frozen=True)
class ItemQuery:
    """A parsed items request: WGS84 bbox, paging and property filters (each a set of values)."""

    bbox: tuple[float, float, float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class FeatureSource(Protocol):
    """Where a collection's features come from; features are GeoJSON dicts in CRS84."""

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features and the number matched by the filters."""
        ...

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One feature by id, or None."""
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


def parse_item_query(params: Mapping[str, str], collection: Collection) -> ItemQuery:
    """Check and parse an items request's query string for ``collection``."""
    known = COMMON_PARAMS | {f.name for f in collection.filters}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadQuery(
            f"Unknown query parameter(s) {', '.join(unknown)}; this collection accepts "
            + ", ".join(sorted(known))
        )
    fmt = params.get("f")
    if fmt not in (None, "", "json", "geojson"):
        raise BadQuery(f"f={fmt!r} is not offered; use f=json")
    filters: dict[str, tuple[str, ...]] = {}
    for flt in collection.filters:
        raw = params.get(flt.name)
        if not raw:
            continue
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        bad = [v for v in values if flt.values is not None and v not in flt.values]
        if bad:
            raise BadQuery(
                f"{flt.name}={','.join(bad)} is not allowed; choose from "
                + ", ".join(flt.values or ())
            )
        filters[flt.name] = values
    bbox = params.get("bbox")
    return ItemQuery(
        bbox=parse_bbox(bbox) if bbox else None,
        limit=_int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_int_param(params, "offset", 0, 0, 10**9),
        filters=filters,
    )


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    """A link object of an OGC document."""
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def landing_page(base: str, *, title: str, description: str, openapi_url: str) -> dict[str, Any]:
    """The landing page: links to itself, the OpenAPI document, conformance and the data."""
    return {
        "title": title,
        "description": description,
        "links": [
            link(base, "self", JSON, "This document"),
            link(openapi_url, "service-desc", OPENAPI_JSON, "The API definition"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/collections", "data", JSON, "Feature collections"),
        ],
    }


def collection_doc(
    base: str, collection: Collection, extent: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    """The description of one collection, with links to its items."""
    url = f"{base}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "keywords": list(collection.keywords),
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(extent or WORLD)], "crs": CRS84}},
        "links": [
            link(url, "self", JSON, collection.title),
            link(f"{url}/items", "items", GEOJSON, f"{collection.title} (GeoJSON)"),
        ],
    }


def page_links(
    url: str, params: Mapping[str, str], q: ItemQuery, returned: int, matched: int
) -> list[dict[str, str]]:
    """Self, next and prev links of an items page, keeping the caller's other parameters."""

    def href(offset: int) -> str:
        kept = {k: v for k, v in params.items() if k not in ("offset", "limit")}
        kept.update(limit=str(q.limit), offset=str(offset))
        return f"{url}?{urlencode(kept)}"

    links = [link(href(q.offset), "self", GEOJSON, "This page")]
    if q.offset + returned < matched:
        links.append(link(href(q.offset + q.limit), "next", GEOJSON, "Next page"))
    if q.offset > 0:
        links.append(link(href(max(q.offset - q.limit, 0)), "prev", GEOJSON, "Previous page"))
    return links


def feature_collection(
    features: list[dict[str, Any]], *, matched: int, links: list[dict[str, str]]
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with the OGC paging members."""
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
    }
