"""OGC API - Features routes: the landing page, conformance, collections and items of a service.

The core (queries, documents) is ``shared.ogc``; this module is its FastAPI layer. Links are
absolute URLs on the service's configured public URL (``ServiceSettings.base_url()``), never on
the request's ``Host`` header, which any client sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.db import SessionDep
from shared.errors import NotFound
from shared.ogc import (
    CONFORMANCE,
    DEFAULT_LIMIT,
    GEOJSON,
    JSON,
    MAX_LIMIT,
    BadQuery,
    Collection,
    clip_bbox,
    collection_doc,
    feature_collection,
    landing_page,
    link,
    page_links,
    parse_item_query,
)
from shared.settings import ServiceSettings


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
        links = [link(f"{base}/collections", "self", JSON, "This document")]
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
            link(f"{base}/items/{feature_id}", "self", GEOJSON, "This feature"),
            link(base, "collection", JSON, coll.title),
        ]
        return JSONResponse(feature, media_type=_media_type(request))
