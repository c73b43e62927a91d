"""OGC API - Tiles routes: Mapbox Vector Tiles on WebMercatorQuad, their TileJSON and metadata.

A service lists its ``TileSet``s (the SQL is ``shared.tiles_sql``) and includes
``tiles_router(...)``. Each tileset is reachable as the tiles of an OGC collection:

- ``{prefix}/tiles``: every tileset with its TileJSON and the XYZ URL template (QGIS's vector
  tile layer takes ``.../WebMercatorQuad/{z}/{y}/{x}`` as it is);
- ``{prefix}/collections/{id}/tiles`` and ``.../tiles/WebMercatorQuad``: OGC tileset metadata
  (``?f=tilejson`` or ``.../WebMercatorQuad/tilejson.json``: TileJSON 3.0.0);
- ``{prefix}/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}``: the tile (z 0-22, row y,
  column x, which may end in .mvt or .pbf; outside the matrix: 404 problem+json; not a whole
  number: 400);
- ``{prefix}/tileMatrixSets[/WebMercatorQuad]``: the tile matrix set.

Protected tilesets take Bearer, HTTP Basic with a token as password, or the session
(``desktop_principal``); public ones take no credentials and publish nothing private. Tiles
carry an ETag made from the data version (If-None-Match gets a 304 without cutting the tile).
The routes stay out of the OpenAPI schema, like the pages: their clients read TileJSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.db import SessionDep
from shared.errors import NotFound
from shared.ogc import JSON, BadQuery
from shared.tiles_sql import (
    INCIDENT_CELLS,
    INCIDENT_POINTS,
    INCIDENTS_VERSION,
    MAX_ZOOM,
    MVT,
    TMS_CRS,
    TMS_ID,
    TMS_URI,
    WARDS,
    WARDS_VERSION,
    CellLayer,
    LayerTile,
    TileId,
    TileLayer,
    TileOutOfRange,
    cell_tile,
    layer_tile,
    tms_document,
    version_of,
)
from shared.web.desktop_auth import desktop_principal
from shared.web.ogc import public_root

TILEJSON = "application/vnd.mapbox.tile+json"
MAX_PARAM_CHARS = 500
Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class TileContext:
    """What a tile is cut for: the caller (None on a public tileset) and the parsed parameters."""

    who: Principal | None
    params: Mapping[str, Any] = field(default_factory=dict)


Renderer = Callable[[Session, TileId, TileContext], Sequence[LayerTile]]
Versioner = Callable[[Session, TileContext], str]
Parser = Callable[[Session, Mapping[str, str]], Mapping[str, Any]]


def _no_params(session: Session, raw: Mapping[str, str]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class TileSet:
    """One vector tileset: its layers, how a tile is cut, and the version its ETag comes from.

    ``parse`` turns the tileset's own query parameters (``params``: name -> description) into
    bound SQL values, raising BadQuery (400) or NotFound (404); ``variant`` names what differs
    between callers of the same URL (for example points for analysts, cells for others).
    """

    id: str
    title: str
    description: str
    layers: tuple[TileLayer | CellLayer, ...]
    render: Renderer
    version: Versioner
    protected: bool = False
    params: Mapping[str, str] = field(default_factory=dict)
    parse: Parser = _no_params
    variant: Callable[[TileContext], str] = lambda ctx: ""
    attribution: str = ""
    minzoom: int = 0
    maxzoom: int = MAX_ZOOM


def tile_bytes(parts: Sequence[LayerTile]) -> bytes:
    """One tile from layer tiles (an MVT is a list of layers: their messages concatenate)."""
    return b"".join(p.data for p in parts)


@lru_cache(maxsize=1)
def partnership_bounds() -> Bbox:
    """The lon/lat box of the partnership's outline (TileJSON ``bounds``)."""
    from shared.extent import partnership_extent
    from shared.geometry import to_wgs84

    minx, miny, maxx, maxy = partnership_extent(0).outline.bounds
    lon, lat = to_wgs84([minx, maxx], [miny, maxy])
    return (
        round(float(lon[0]), 5),
        round(float(lat[0]), 5),
        round(float(lon[1]), 5),
        round(float(lat[1]), 5),
    )


def _link(href: str, rel: str, type_: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "rel": rel, "type": type_, "title": title, **extra}


def _vector_layers(ts: TileSet) -> list[dict[str, Any]]:
    return [
        {
            "id": layer.name,
            "description": layer.description,
            "fields": layer.fields(),
            "minzoom": ts.minzoom,
            "maxzoom": ts.maxzoom,
        }
        for layer in ts.layers
    ]


class _Urls:
    """The URLs of one tileset under the service's public root."""

    def __init__(self, request: Request, prefix: str, ts: TileSet) -> None:
        self.base = public_root(request) + prefix
        self.tiles = f"{self.base}/collections/{ts.id}/tiles"
        self.tileset = f"{self.tiles}/{TMS_ID}"
        self.template = self.tileset + "/{z}/{y}/{x}"
        self.tilejson = f"{self.tileset}/tilejson.json"


def tilejson(request: Request, prefix: str, ts: TileSet) -> dict[str, Any]:
    """The TileJSON 3.0.0 document of ``ts``."""
    urls = _Urls(request, prefix, ts)
    w, s, e, n = partnership_bounds()
    return {
        "tilejson": "3.0.0",
        "name": ts.title,
        "description": ts.description,
        "version": "1.0.0",
        "attribution": ts.attribution,
        "scheme": "xyz",
        "tiles": [urls.template],
        "minzoom": ts.minzoom,
        "maxzoom": ts.maxzoom,
        "bounds": [w, s, e, n],
        "center": [round((w + e) / 2, 5), round((s + n) / 2, 5), 12],
        "vector_layers": _vector_layers(ts),
    }


def tileset_doc(request: Request, prefix: str, ts: TileSet) -> dict[str, Any]:
    """OGC API - Tiles tileset metadata: the matrix set, the layers and the tile template."""
    urls = _Urls(request, prefix, ts)
    return {
        "title": ts.title,
        "description": ts.description,
        "dataType": "vector",
        "crs": TMS_CRS,
        "tileMatrixSetURI": TMS_URI,
        "layers": [
            {"id": layer["id"], "description": layer["description"], "dataType": "vector"}
            for layer in _vector_layers(ts)
        ],
        "links": [
            _link(urls.tileset, "self", JSON, ts.title),
            _link(
                f"{urls.base}/tileMatrixSets/{TMS_ID}",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
                TMS_ID,
            ),
            _link(urls.template, "item", MVT, "Vector tiles", templated=True),
            _link(urls.tilejson, "describedby", TILEJSON, "TileJSON"),
        ],
    }


def parse_tile(z: str, y: str, x: str) -> TileId:
    """The tile of path segments: 400 unless whole numbers, 404 outside WebMercatorQuad.

    The column may end in ``.mvt`` or ``.pbf`` (GDAL's MVT driver opens a URL by its extension).
    """
    x = x.removesuffix(".mvt").removesuffix(".pbf")
    for name, raw in (("zoom", z), ("row (y)", y), ("column (x)", x)):
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 8):
            raise BadQuery(f"The tile {name} must be a whole number of at most 8 digits: {raw!r}")
    try:
        return TileId.checked(int(z), int(x), int(y))
    except TileOutOfRange as exc:
        raise NotFound(f"No such tile in {TMS_ID}: {exc}") from None


def _query(request: Request, ts: TileSet, *, extra: Sequence[str] = ()) -> dict[str, str]:
    """The query parameters, refused (400) when unknown or too long."""
    raw = dict(request.query_params)
    allowed = {"f", *ts.params, *extra}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed))
        raise BadQuery(f"Unknown query parameter(s) {', '.join(unknown)}; this takes {takes}")
    long = sorted(k for k, v in raw.items() if len(v) > MAX_PARAM_CHARS)
    if long:
        raise BadQuery(f"{', '.join(long)} is longer than {MAX_PARAM_CHARS} characters")
    return raw


def etag(ts: TileSet, tile: TileId, version: str, ctx: TileContext, raw: Mapping[str, str]) -> str:
    """A strong ETag from the data version, the tile, the parameters and the variant."""
    parts = [ts.id, version, f"{tile.z}/{tile.x}/{tile.y}", ts.variant(ctx)]
    parts += [f"{k}={raw[k]}" for k in sorted(raw) if k != "f"]
    return '"' + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] + '"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or tag in tags


def _cache_headers(ts: TileSet, tag: str) -> dict[str, str]:
    if ts.protected:
        return {
            "ETag": tag,
            "Cache-Control": "private, max-age=60",
            "Vary": "Authorization, Cookie",
        }
    return {"ETag": tag, "Cache-Control": "public, max-age=60"}


def tile_response(
    request: Request, session: Session, ts: TileSet, tile: TileId, who: Principal | None
) -> Response:
    """The tile's MVT bytes, or 304 when the client holds the same version."""
    raw = _query(request, ts)
    f = raw.get("f")
    if f not in (None, "", "mvt", "pbf"):
        raise BadQuery(f"f={f!r} is not offered; tiles are Mapbox Vector Tiles (f=mvt)")
    ctx = TileContext(who, ts.parse(session, raw))
    tag = etag(ts, tile, ts.version(session, ctx), ctx, raw)
    headers = _cache_headers(ts, tag)
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    parts = ts.render(session, tile, ctx)
    if any(p.capped for p in parts):
        headers["CSP-Tile-Capped"] = "true"  # the cap cut features off: zoom in for all of them
    return Response(tile_bytes(parts), media_type=MVT, headers=headers)


def _public_caller() -> Principal | None:
    return None  # a public tileset reads no credentials


def _add_tileset_routes(router: APIRouter, ts: TileSet, prefix: str) -> None:
    """The metadata, TileJSON and tile routes of one tileset (protected: a caller first)."""
    caller: Callable[..., Principal | None] = desktop_principal if ts.protected else _public_caller
    path = f"/collections/{ts.id}/tiles"

    @router.get(path, name=f"tiles_{ts.id}_tilesets")
    def collection_tilesets(
        request: Request, who: Principal | None = Depends(caller)
    ) -> JSONResponse:
        return JSONResponse({"tilesets": [tileset_doc(request, prefix, ts)]})

    @router.get(f"{path}/{TMS_ID}", name=f"tiles_{ts.id}_tileset")
    def tileset(request: Request, who: Principal | None = Depends(caller)) -> JSONResponse:
        f = _query(request, ts).get("f")
        if f == "tilejson":
            return JSONResponse(tilejson(request, prefix, ts), media_type=TILEJSON)
        if f not in (None, "", "json"):
            raise BadQuery(f"f={f!r} is not offered; use f=json or f=tilejson")
        return JSONResponse(tileset_doc(request, prefix, ts))

    @router.get(f"{path}/{TMS_ID}/tilejson.json", name=f"tiles_{ts.id}_tilejson")
    def tileset_tilejson(request: Request, who: Principal | None = Depends(caller)) -> JSONResponse:
        return JSONResponse(tilejson(request, prefix, ts), media_type=TILEJSON)

    @router.get(f"{path}/{TMS_ID}/{{z}}/{{y}}/{{x}}", name=f"tiles_{ts.id}_tile")
    def tile(
        request: Request,
        session: SessionDep,
        z: str,
        y: str,
        x: str,
        who: Principal | None = Depends(caller),
    ) -> Response:
        return tile_response(request, session, ts, parse_tile(z, y, x), who)


def tiles_router(
    tilesets: Sequence[TileSet], *, prefix: str = "/ogc", dependencies: Sequence[Any] = ()
) -> APIRouter:
    """Routes of OGC API - Tiles at ``prefix`` for ``tilesets`` (see the module's docstring).

    ``dependencies`` apply to every route (a service whose whole OGC API needs a caller).
    """
    router = APIRouter(prefix=prefix, include_in_schema=False, dependencies=list(dependencies))

    @router.get("/tiles")
    def tilesets_list(request: Request) -> JSONResponse:
        base = public_root(request) + prefix
        out = []
        for ts in tilesets:
            urls = _Urls(request, prefix, ts)
            doc = tileset_doc(request, prefix, ts)
            doc.update(id=ts.id, protected=ts.protected, tiles=urls.template)
            out.append(doc)
        links = [_link(f"{base}/tiles", "self", JSON, "Vector tilesets")]
        links.append(
            _link(
                f"{base}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "Tile matrix sets",
            )
        )
        return JSONResponse({"links": links, "tilesets": out})

    @router.get("/tileMatrixSets")
    def matrix_sets(request: Request) -> JSONResponse:
        base = public_root(request) + prefix
        link = _link(f"{base}/tileMatrixSets/{TMS_ID}", "self", JSON, TMS_ID)
        item = {"id": TMS_ID, "title": TMS_ID, "uri": TMS_URI, "links": [link]}
        return JSONResponse({"tileMatrixSets": [item]})

    @router.get(f"/tileMatrixSets/{TMS_ID}")
    def matrix_set(request: Request) -> JSONResponse:
        return JSONResponse(
            tms_document(public_root(request) + prefix + f"/tileMatrixSets/{TMS_ID}")
        )

    for ts in tilesets:
        _add_tileset_routes(router, ts, prefix)
    return router


# --- tilesets of shared data: wards (public), incidents (protected) ----------------------------

POINT_ZOOM = 14  # incident points from this zoom on, for the roles that may read incidents
POINT_ROLES = ("analyst",)  # and admins (``Principal.holds``)
MAX_CATEGORIES = 50


def _wards_tile(session: Session, tile: TileId, ctx: TileContext) -> Sequence[LayerTile]:
    return [layer_tile(session, WARDS, tile)]


WARDS_TILESET = TileSet(
    id="wards",
    title="Wards",
    description="The partnership's electoral wards (public).",
    layers=(WARDS,),
    render=_wards_tile,
    version=lambda session, ctx: version_of(session, WARDS_VERSION),
    attribution="Contains ONS and OS data (c) Crown copyright and database right",
)


def reads_incident_points(who: Principal | None) -> bool:
    """Whether ``who`` may see incidents one by one (analysts and admins); others see counts."""
    return who is not None and who.holds(*POINT_ROLES)


def parse_incident_params(session: Session, raw: Mapping[str, str]) -> Mapping[str, Any]:
    """``category`` (comma-separated) and ``datetime`` (OGC instant or interval) as SQL values."""
    from shared.ogc import parse_datetime

    cats = tuple(c.strip() for c in raw.get("category", "").split(",") if c.strip())
    if len(cats) > MAX_CATEGORIES:
        raise BadQuery(f"category lists {len(cats)} types; at most {MAX_CATEGORIES}")
    t0, t1 = parse_datetime(raw["datetime"]) if raw.get("datetime") else (None, None)
    return {"any_category": not cats, "categories": list(cats) or [""], "t0": t0, "t1": t1}


def _incidents_tile(session: Session, tile: TileId, ctx: TileContext) -> Sequence[LayerTile]:
    if tile.z >= POINT_ZOOM and reads_incident_points(ctx.who):
        points = layer_tile(session, INCIDENT_POINTS, tile, ctx.params)
        if not points.capped:
            return [points]  # too many for one tile: counts say more than a cut-off sample
    return [cell_tile(session, INCIDENT_CELLS, tile, ctx.params)]


INCIDENTS_TILESET = TileSet(
    id="incidents",
    title="Incidents",
    description=(
        "Incidents (crime and ASB, collisions, fires, water) counted per square cell at every "
        f"zoom; analysts and admins see them one by one from zoom {POINT_ZOOM} (counts again "
        f"where a tile would hold over {INCIDENT_POINTS.max_features:,}). "
        "category=a,b and datetime= (an instant or interval) narrow them."
    ),
    layers=(INCIDENT_CELLS, INCIDENT_POINTS),
    render=_incidents_tile,
    version=lambda session, ctx: version_of(session, INCIDENTS_VERSION),
    protected=True,
    params={"category": "Types, comma-separated", "datetime": "Instant or interval"},
    parse=parse_incident_params,
    variant=lambda ctx: "points" if reads_incident_points(ctx.who) else "cells",
    attribution="Police data (c) Crown copyright, data.police.uk (OGL v3.0)",
)
