"""OGC API - Features routes: the landing page, conformance, collections and items of a service.

Queries are ``shared.ogc``, documents ``shared.ogc_docs``; this is their FastAPI layer. Links
are absolute URLs on the configured public URL (``ServiceSettings.base_url()``), never on the
request's ``Host`` header, which any client sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from shared.cql import FILTER_LANGS
from shared.db import SessionDep
from shared.errors import NotFound
from shared.ogc import (
    CONFORMANCE,
    CRS_SRIDS,
    DEFAULT_LIMIT,
    GEOJSON,
    JSON,
    MAX_LIMIT,
    OPENAPI_JSON,
    SCHEMA_JSON,
    BadQuery,
    Collection,
    crs_uri,
    parse_crs,
    parse_item_query,
)
from shared.ogc_docs import (
    collection_doc,
    feature_collection,
    landing_page,
    link,
    page_links,
    queryables_doc,
)
from shared.settings import ServiceSettings

# Collections made per request (one per hotspot run): by id, and the list for /collections.
Resolver = Callable[[Session, str], Collection | None]
Lister = Callable[[Session], Sequence[Collection]]


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
    params.extend(_part2_3_parameters(collection))
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


def _text_param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _part2_3_parameters(collection: Collection) -> list[dict[str, Any]]:
    """crs and bbox-crs (Part 2); datetime, filter, filter-lang, sortby (Parts 1 and 3)."""
    crs = {"enum": [*CRS_SRIDS, "EPSG:27700"]}
    out = [
        _text_param("crs", "CRS of the answer (default CRS84)", **crs),
        _text_param("bbox-crs", "CRS of bbox (default CRS84)", **crs),
    ]
    if collection.temporal is not None:
        out.append(
            _text_param(
                "datetime",
                f"Instant or interval (start/end, ../end, start/..) of {collection.temporal}",
            )
        )
    if collection.queryables:
        out += [
            _text_param("filter", "CQL2 filter on the queryables", maxLength=8000),
            _text_param(
                "filter-lang",
                "cql2-text (default), cql2-json, or cql-text (the drafts' name, as GDAL sends)",
                enum=list(FILTER_LANGS),
            ),
            _text_param("filter-crs", "CRS of the filter's geometries (CRS84 only)"),
            _text_param("sortby", "+name or -name, comma-separated queryables"),
        ]
    return out


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


def ogc_openapi(doc: dict[str, Any], prefix: str, base: str) -> dict[str, Any]:
    """``doc`` with only the paths under ``prefix``, written relative to it (servers: base)."""
    paths = {
        path[len(prefix) :] or "/": item
        for path, item in doc.get("paths", {}).items()
        if path == prefix or path.startswith(prefix + "/")
    }
    return {**doc, "servers": [{"url": base}], "paths": paths}


def _collection(
    collections: Mapping[str, Collection],
    collection_id: str,
    session: Session | None = None,
    resolver: Resolver | None = None,
) -> Collection:
    found = collections.get(collection_id)
    if found is None and resolver is not None and session is not None:
        found = resolver(session, collection_id)
    if found is None:
        raise NotFound(
            f"No collection {collection_id!r}; there are: {', '.join(collections) or 'none'}"
        )
    return found


def _temporal(c: Collection, session: Session) -> Any:
    fn = getattr(c.source, "temporal_extent", None)
    return fn(session) if fn is not None and c.temporal is not None else None


def _describe(base: str, c: Collection, session: Session) -> dict[str, Any]:
    return collection_doc(base, c, c.source.extent(session), _temporal(c, session))


def ogc_router(
    collections: Sequence[Collection],
    *,
    title: str,
    description: str,
    prefix: str = "/ogc",
    tag: str = "OGC API - Features",
    resolver: Resolver | None = None,
    lister: Lister | None = None,
) -> APIRouter:
    """Routes of an OGC API - Features endpoint at ``prefix`` serving ``collections``.

    ``resolver`` and ``lister`` add collections made per request (``/collections/{id}`` and
    its items, queryables and features), after the fixed ones.
    """
    by_id = {c.id: c for c in collections}
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("", summary="Landing page", response_model=None)
    def landing(request: Request) -> JSONResponse:
        """Links to the API definition, conformance and the collections."""
        openapi = _base(request, prefix) + "/api"
        body = landing_page(
            _base(request, prefix), title=title, description=description, openapi_url=openapi
        )
        return JSONResponse(body)

    @router.get("/api", summary="The OGC API's own OpenAPI document", response_model=None)
    def api_document(request: Request) -> JSONResponse:
        """The service's OpenAPI document cut to this API, paths relative to it.

        GDAL looks up ``/collections/{id}/items`` in the service description to learn which
        query parameters (filter-lang, queryables) the server takes.
        """
        body = ogc_openapi(request.app.openapi(), prefix, _base(request, prefix))
        return JSONResponse(body, media_type=OPENAPI_JSON)

    @router.get("/conformance", summary="Conformance classes", response_model=None)
    def conformance() -> JSONResponse:
        """The conformance classes implemented (Features Parts 1, 2 and 3, CQL2 basic)."""
        return JSONResponse({"conformsTo": list(CONFORMANCE)})

    @router.get("/collections", summary="Feature collections", response_model=None)
    def list_collections(request: Request, session: SessionDep) -> JSONResponse:
        """Every collection with its extent and items link."""
        base = _base(request, prefix)
        every = [*collections, *(lister(session) if lister else ())]
        docs = [_describe(base, c, session) for c in every]
        links = [link(f"{base}/collections", "self", JSON, "This document")]
        return JSONResponse({"links": links, "collections": docs})

    for coll in collections:
        _add_collection_routes(router, coll.id, coll.title, by_id, prefix, None)
    if resolver is not None:
        _add_collection_routes(router, None, "Per-request collection", by_id, prefix, resolver)
    return router


def _items_response(request: Request, session: Session, c: Collection, url: str) -> JSONResponse:
    params = dict(request.query_params)
    q = parse_item_query(params, c)
    features, matched = c.source.query(session, q)
    links = page_links(url, params, q, len(features), matched)
    body = feature_collection(features, matched=matched, links=links)
    response = JSONResponse(body, media_type=_media_type(request))
    response.headers["Content-Crs"] = f"<{crs_uri(q.srid)}>"
    return response


def _item_response(
    request: Request, session: Session, c: Collection, feature_id: str, base: str
) -> JSONResponse:
    params = request.query_params
    unknown = sorted(set(params) - {"f", "crs"})
    if unknown:
        raise BadQuery(f"Unknown query parameter(s) {', '.join(unknown)}; a feature takes f, crs")
    f = params.get("f")
    if f not in (None, "", "json", "geojson"):
        raise BadQuery(f"f={f!r} is not offered; use f=json")
    srid = parse_crs(params.get("crs"), "crs")
    feature = c.source.get(session, feature_id, srid)
    if feature is None:
        raise NotFound(f"No feature {feature_id!r} in collection {c.id!r}")
    feature = dict(feature)
    feature["links"] = [
        link(f"{base}/items/{feature_id}", "self", GEOJSON, "This feature"),
        link(base, "collection", JSON, c.title),
    ]
    response = JSONResponse(feature, media_type=_media_type(request))
    response.headers["Content-Crs"] = f"<{crs_uri(srid)}>"
    return response


def _add_collection_routes(
    router: APIRouter,
    coll_id: str | None,
    title: str,
    by_id: Mapping[str, Collection],
    prefix: str,
    resolver: Resolver | None,
) -> None:
    """The four routes of one fixed collection, or (``coll_id`` None) of resolved ones."""
    path = f"/collections/{coll_id}" if coll_id else "/collections/{collection_id}"
    name = coll_id or "resolved"
    fixed = by_id.get(coll_id or "")
    extra = {"parameters": _items_parameters(fixed)} if fixed else None

    if coll_id:

        def the_id() -> str:
            return coll_id

        id_dep: Callable[..., str] = the_id
    else:

        def path_id(collection_id: str) -> str:
            return collection_id

        id_dep = path_id

    def pick(session: Session, collection_id: str) -> Collection:
        return _collection(by_id, collection_id, session, resolver)

    def url(request: Request, c: Collection) -> str:
        return f"{_base(request, prefix)}/collections/{c.id}"

    @router.get(
        path,
        summary=f"{title}: description",
        response_model=None,
        responses=PROBLEM_RESPONSES,
        name=f"ogc_{name}_collection",
    )
    def describe(
        request: Request, session: SessionDep, collection_id: str = Depends(id_dep)
    ) -> JSONResponse:
        """The collection's description and extent."""
        c = pick(session, collection_id)
        return JSONResponse(_describe(_base(request, prefix), c, session))

    @router.get(
        f"{path}/queryables",
        summary=f"{title}: queryables",
        response_model=None,
        responses=PROBLEM_RESPONSES,
        name=f"ogc_{name}_queryables",
    )
    def queryables(
        request: Request, session: SessionDep, collection_id: str = Depends(id_dep)
    ) -> JSONResponse:
        """The properties filter and sortby take, as a JSON Schema."""
        c = pick(session, collection_id)
        body = queryables_doc(_base(request, prefix), c)
        wants_schema = SCHEMA_JSON in request.headers.get("accept", "")
        return JSONResponse(body, media_type=SCHEMA_JSON if wants_schema else JSON)

    @router.get(
        f"{path}/items",
        summary=f"{title}: features",
        response_model=None,
        responses=FC_RESPONSE,
        name=f"ogc_{name}_items",
        openapi_extra=extra,
    )
    def items(
        request: Request, session: SessionDep, collection_id: str = Depends(id_dep)
    ) -> JSONResponse:
        """A page of features, filtered by bbox, datetime, CQL2 and properties."""
        c = pick(session, collection_id)
        return _items_response(request, session, c, f"{url(request, c)}/items")

    @router.get(
        f"{path}/items/{{feature_id}}",
        summary=f"{title}: one feature",
        response_model=None,
        responses=FC_RESPONSE,
        name=f"ogc_{name}_item",
    )
    def item(
        request: Request, session: SessionDep, feature_id: str, collection_id: str = Depends(id_dep)
    ) -> JSONResponse:
        """One feature by id, with links to itself and its collection."""
        c = pick(session, collection_id)
        return _item_response(request, session, c, feature_id, url(request, c))
