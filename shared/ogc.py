"""OGC API - Features (Part 1: Core, GeoJSON, OAS 3.0) for any service's feature collections.

A service describes each collection with a ``Collection`` (id, title, filters) and a
``FeatureSource`` that answers paged, filtered queries with RFC 7946 GeoJSON features in WGS84
(CRS84, lon/lat). ``ogc_router`` turns a list of them into the landing page, conformance,
collections and items routes. Query parameters are parsed and checked here, once, so every
collection pages and filters the same way; bad ones are 400 problem+json, as the standard asks.

A bbox is clipped to the area where the storage CRS (EPSG:27700) is valid before any source sees
it: clients send world or continental extents, which PostGIS cannot project to the British
National Grid (it was a 500, or silently no features). A box outside that area matches nothing.
Links are absolute URLs on the service's configured public URL (``ServiceSettings.base_url()``),
never on the request's ``Host`` header, which any client sets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pyproj import CRS
from sqlalchemy.orm import Session

from shared.db import SessionDep
from shared.errors import AppError, NotFound
from shared.geometry import BNG
from shared.settings import ServiceSettings

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


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
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
            _link(base, "self", JSON, "This document"),
            _link(openapi_url, "service-desc", OPENAPI_JSON, "The API definition"),
            _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}/collections", "data", JSON, "Feature collections"),
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
            _link(url, "self", JSON, collection.title),
            _link(f"{url}/items", "items", GEOJSON, f"{collection.title} (GeoJSON)"),
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

    links = [_link(href(q.offset), "self", GEOJSON, "This page")]
    if q.offset + returned < matched:
        links.append(_link(href(q.offset + q.limit), "next", GEOJSON, "Next page"))
    if q.offset > 0:
        links.append(_link(href(max(q.offset - q.limit, 0)), "prev", GEOJSON, "Previous page"))
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


def _media_type(request: Request) -> str:
    """GeoJSON unless the client asked for plain JSON and not GeoJSON."""
    accept = request.headers.get("accept", "")
    if JSON in accept and GEOJSON not in accept:
        return JSON
    return GEOJSON


def public_root(request: Request) -> str:
    """The service's public URL from its settings (``base_url()``), never from ``Host``."""
    settings = getattr(request.app.state, "settings", None)
    if not isinstance(settings, ServiceSettings):
        return ""  # links relative to the server root rather than trusting the request
    return settings.base_url().rstrip("/")


def _base(request: Request, prefix: str) -> str:
    return public_root(request) + prefix


def _items_parameters(collection: Collection) -> list[dict[str, Any]]:
    """OpenAPI parameter objects of an items route (declared, since they are read by hand)."""
    params: list[dict[str, Any]] = [
        {
            "name": "bbox",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "minlon,minlat,maxlon,maxlat in CRS84",
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "Features to skip",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "Output format",
            "schema": {"type": "string", "enum": ["json"]},
        },
    ]
    for flt in collection.filters:
        schema: dict[str, Any] = {"type": "string"}
        if flt.values:
            schema = {
                "type": "string",
                "pattern": "^(" + "|".join(flt.values) + ")(,(" + "|".join(flt.values) + "))*$",
            }
        params.append(
            {
                "name": flt.name,
                "in": "query",
                "required": False,
                "description": flt.description + " (comma-separated to match any of several)",
                "schema": schema,
            }
        )
    return params


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid query parameter", "content": {"application/problem+json": {}}},
    404: {"description": "Not found", "content": {"application/problem+json": {}}},
}
FC_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "GeoJSON features in CRS84",
        "content": {GEOJSON: {"schema": {"type": "object"}}, JSON: {"schema": {"type": "object"}}},
    },
    **PROBLEM_RESPONSES,
}


def _collection(collections: Mapping[str, Collection], collection_id: str) -> Collection:
    found = collections.get(collection_id)
    if found is None:
        raise NotFound(
            f"No collection {collection_id!r}; there are: {', '.join(collections) or 'none'}"
        )
    return found


def ogc_router(
    collections: Sequence[Collection],
    *,
    title: str,
    description: str,
    prefix: str = "/ogc",
    tag: str = "OGC API - Features",
) -> APIRouter:
    """Routes of an OGC API - Features endpoint at ``prefix`` serving ``collections``."""
    by_id = {c.id: c for c in collections}
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("", summary="Landing page", response_model=None)
    def landing(request: Request) -> JSONResponse:
        """Links to the API definition, conformance and the collections."""
        openapi = public_root(request) + (request.app.openapi_url or "/openapi.json")
        body = landing_page(
            _base(request, prefix), title=title, description=description, openapi_url=openapi
        )
        return JSONResponse(body)

    @router.get("/conformance", summary="Conformance classes", response_model=None)
    def conformance() -> JSONResponse:
        """The conformance classes implemented: core, GeoJSON and OpenAPI 3.0."""
        return JSONResponse({"conformsTo": list(CONFORMANCE)})

    @router.get("/collections", summary="Feature collections", response_model=None)
    def list_collections(request: Request, session: SessionDep) -> JSONResponse:
        """Every collection with its extent and items link."""
        base = _base(request, prefix)
        docs = [collection_doc(base, c, c.source.extent(session)) for c in collections]
        links = [_link(f"{base}/collections", "self", JSON, "This document")]
        return JSONResponse({"links": links, "collections": docs})

    for coll in collections:
        _add_collection_routes(router, coll, by_id, prefix)
    return router


def _add_collection_routes(
    router: APIRouter, coll: Collection, by_id: Mapping[str, Collection], prefix: str
) -> None:
    path = f"/collections/{coll.id}"

    @router.get(
        path,
        summary=f"{coll.title}: description",
        response_model=None,
        responses=PROBLEM_RESPONSES,
        name=f"ogc_{coll.id}_collection",
    )
    def describe(request: Request, session: SessionDep) -> JSONResponse:
        """The collection's description and extent."""
        c = _collection(by_id, coll.id)
        return JSONResponse(collection_doc(_base(request, prefix), c, c.source.extent(session)))

    @router.get(
        f"{path}/items",
        summary=f"{coll.title}: features",
        response_model=None,
        responses=FC_RESPONSE,
        name=f"ogc_{coll.id}_items",
        openapi_extra={"parameters": _items_parameters(coll)},
    )
    def items(request: Request, session: SessionDep) -> JSONResponse:
        """A page of features, filtered by bbox and properties."""
        c = _collection(by_id, coll.id)
        params = dict(request.query_params)
        q = parse_item_query(params, c)
        clipped = clip_bbox(q.bbox) if q.bbox is not None else None
        features: list[dict[str, Any]]
        if q.bbox is not None and clipped is None:
            features, matched = [], 0
        else:
            features, matched = c.source.query(session, replace(q, bbox=clipped))
        url = f"{_base(request, prefix)}{path}/items"
        links = page_links(url, params, q, len(features), matched)
        body = feature_collection(features, matched=matched, links=links)
        return JSONResponse(body, media_type=_media_type(request))

    @router.get(
        f"{path}/items/{{feature_id}}",
        summary=f"{coll.title}: one feature",
        response_model=None,
        responses=FC_RESPONSE,
        name=f"ogc_{coll.id}_item",
    )
    def item(
        request: Request, session: SessionDep, feature_id: str, f: str | None = None
    ) -> JSONResponse:
        """One feature by id, with links to itself and its collection."""
        if f not in (None, "", "json", "geojson"):
            raise BadQuery(f"f={f!r} is not offered; use f=json")
        c = _collection(by_id, coll.id)
        feature = c.source.get(session, feature_id)
        if feature is None:
            raise NotFound(f"No feature {feature_id!r} in collection {coll.id!r}")
        base = f"{_base(request, prefix)}{path}"
        feature = dict(feature)
        feature["links"] = [
            _link(f"{base}/items/{feature_id}", "self", GEOJSON, "This feature"),
            _link(base, "collection", JSON, coll.title),
        ]
        return JSONResponse(feature, media_type=_media_type(request))
