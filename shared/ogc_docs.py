"""OGC API - Features documents: landing page, collection, queryables, pages of features.

Built from the core's ``Collection`` and ``ItemQuery`` (``shared.ogc``); framework-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from shared.ogc import (
    CRS84,
    CRS_SRIDS,
    EPSG27700,
    GEOJSON,
    JSON,
    OPENAPI_JSON,
    QUERYABLES_REL,
    SCHEMA_JSON,
    TRS,
    WORLD,
    Collection,
    Interval,
    ItemQuery,
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
            link(
                f"{base}/tiles",
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                JSON,
                "Vector tilesets (Mapbox Vector Tiles)",
            ),
            link(
                f"{base}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "Tile matrix sets",
            ),
        ],
    }


def collection_doc(
    base: str,
    collection: Collection,
    extent: tuple[float, float, float, float] | None,
    temporal: Interval | None = None,
) -> dict[str, Any]:
    """The description of one collection, with links to its items and queryables."""
    url = f"{base}/collections/{collection.id}"
    doc_extent: dict[str, Any] = {"spatial": {"bbox": [list(extent or WORLD)], "crs": CRS84}}
    if collection.temporal is not None:
        ends = [None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in temporal or ()]
        doc_extent["temporal"] = {"interval": [ends or [None, None]], "trs": TRS}
    links = [
        link(url, "self", JSON, collection.title),
        link(f"{url}/items", "items", GEOJSON, f"{collection.title} (GeoJSON)"),
    ]
    if collection.queryables:
        links.append(link(f"{url}/queryables", QUERYABLES_REL, SCHEMA_JSON, "Queryables"))
        # the Part 3 drafts' relation, which GDAL 3.6 follows
        links.append(link(f"{url}/queryables", "queryables", JSON, "Queryables"))
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "keywords": list(collection.keywords),
        "itemType": "feature",
        "crs": list(CRS_SRIDS),
        "storageCrs": EPSG27700,
        "extent": doc_extent,
        "links": links,
    }


def queryables_doc(base: str, collection: Collection) -> dict[str, Any]:
    """The queryables of a collection as a JSON Schema (Part 3)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection.id}/queryables",
        "type": "object",
        "title": collection.title,
        "properties": {q.name: q.schema() for q in collection.queryables},
        "additionalProperties": False,
        # The same names in the Part 3 drafts' form (GDAL 3.6 reads this list).
        "queryables": [
            {"id": q.name, "queryable": q.name, "type": q.type} for q in collection.queryables
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
