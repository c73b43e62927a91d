"""``GET /boundaries/{layer}.geojson``: the boundary areas every map draws, on every service.

Public: boundaries are open data, and a map must draw them before anyone signs in. Each answer
carries an ETag and Cache-Control, and the body is built once per stored version of the layer
(a reload makes new rows, so a new version), so a map reload costs one small query or a 304.
The outline falls back to the bundled file while the database holds none.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shared.boundaries.geojson import Feature, dumps, feature_collection
from shared.boundaries.layers import LAYERS, Layer
from shared.boundaries.service import layer_features, layer_version
from shared.db import SessionDep
from shared.errors import NotFound

router = APIRouter(tags=["boundaries"], include_in_schema=False)
MEDIA_TYPE = "application/geo+json"
# Boundaries change when an admin loads a file: a map may keep them five minutes, then asks
# again with If-None-Match (a 304 while nothing changed).
CACHE_CONTROL = "public, max-age=300"
_CACHE_SIZE = 16


@dataclass(frozen=True)
class Body:
    """One built answer: the JSON, its gzip form and its ETag."""

    raw: bytes
    gzipped: bytes
    etag: str


_cache: OrderedDict[tuple[str, str], Body] = OrderedDict()
_lock = threading.Lock()


def _build(layer: str, features: list[Feature]) -> Body:
    raw = dumps(feature_collection(features, layer=layer))
    etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    return Body(raw, gzip.compress(raw, compresslevel=6, mtime=0), etag)


def _bundled_outline() -> list[Feature]:
    from shared.boundaries.reader import read_boundaries
    from shared.extent import OUTLINE_PATH

    read = read_boundaries(OUTLINE_PATH, layer=Layer.OUTLINE)
    return [Feature(a.code, a.name, a.geom) for a in read.areas]


def layer_body(session: Session, layer: str) -> Body:
    """The layer's GeoJSON answer, built once per stored version (and per process)."""
    version = layer_version(session, layer)
    bundled = layer == Layer.OUTLINE and version.startswith(f"{layer}:0:")
    key = (layer, "bundled" if bundled else version)
    with _lock:
        body = _cache.get(key)
        if body is not None:
            _cache.move_to_end(key)
            return body
    features = _bundled_outline() if bundled else layer_features(session, layer)
    body = _build(layer, features)
    with _lock:
        _cache[key] = body
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return body


@router.get("/boundaries/{layer}.geojson", summary="Boundary areas of a layer (WGS84 GeoJSON)")
def boundaries_geojson(layer: str, request: Request, session: SessionDep) -> Response:
    """The ward, LSOA or outline areas, simplified for display, each with code and name."""
    if layer not in LAYERS:
        raise NotFound(f"there is no boundary layer {layer!r}; layers: {', '.join(LAYERS)}")
    body = layer_body(session, layer)
    headers = {"ETag": body.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match", ""), body.etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(body.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(body.raw, media_type=MEDIA_TYPE, headers=headers)


def _matches(header: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
    return "*" in tags or etag in tags
