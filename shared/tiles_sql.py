"""Mapbox Vector Tiles made in PostGIS (ST_AsMVT) on the WebMercatorQuad tile matrix set.

A ``TileLayer`` names a table, its EPSG:27700 geometry, its id and the attributes a tile
publishes; ``layer_tile`` cuts one tile of it: the rows whose geometry meets the tile (an index
test on a box in EPSG:27700 computed here, then ``ST_AsMVTGeom``'s exact clip), at most
``max_features`` of them in id order, and says whether the cap cut some off. ``cell_tile``
counts points per square cell instead (cells aligned on the tile grid, so they line up from
tile to tile). Every name in the SQL is a constant of the code; z, x, y, boxes and filter
values are bound parameters, so nothing a client sends becomes SQL text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyproj import Transformer
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from shared.geometry import BNG
from shared.ogc import STORAGE_AREA, clip_bbox

MAX_ZOOM = 22
EXTENT = 4096  # MVT units per tile side
BUFFER = 64  # units drawn beyond the edge, so symbols and outlines are not cut at tile seams
WEB_MERCATOR = 3857
HALF_WORLD_M = 20037508.342789244  # half the width of the EPSG:3857 square
MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
TMS_CRS = "http://www.opengis.net/def/crs/EPSG/0/3857"
_TO_BNG = Transformer.from_crs(4326, BNG, always_xy=True)


def tms_document(self_url: str) -> dict[str, Any]:
    """WebMercatorQuad as an OGC Two Dimensional Tile Matrix Set (2.0) document."""
    matrices = []
    for z in range(MAX_ZOOM + 1):
        n = 1 << z
        cell = 2 * HALF_WORLD_M / (256 * n)
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD_M, HALF_WORLD_M],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            }
        )
    return {
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": TMS_CRS,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
        "links": [{"href": self_url, "rel": "self", "type": "application/json", "title": TMS_ID}],
    }


class TileOutOfRange(ValueError):
    """z, x or y outside WebMercatorQuad (z 0-22; x, y 0 to 2**z - 1)."""


@dataclass(frozen=True)
class TileId:
    """One tile of WebMercatorQuad: zoom, column (x, from the west) and row (y, from the north)."""

    z: int
    x: int
    y: int

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> TileId:
        """The tile, or TileOutOfRange saying which number is outside the matrix."""
        if not 0 <= z <= MAX_ZOOM:
            raise TileOutOfRange(f"zoom {z} is outside WebMercatorQuad's 0 to {MAX_ZOOM}")
        top = (1 << z) - 1
        for name, value in (("column (x)", x), ("row (y)", y)):
            if not 0 <= value <= top:
                raise TileOutOfRange(f"{name} {value} is outside 0 to {top} at zoom {z}")
        return cls(z, x, y)

    @property
    def span_m(self) -> float:
        """Width of the tile in EPSG:3857 metres."""
        return 2 * HALF_WORLD_M / (1 << self.z)

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857 (as ST_TileEnvelope)."""
        s = self.span_m
        minx = -HALF_WORLD_M + self.x * s
        maxy = HALF_WORLD_M - self.y * s
        return (minx, maxy - s, minx + s, maxy)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        n = 1 << self.z

        def lat(row: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

        return (self.x / n * 360 - 180, lat(self.y + 1), (self.x + 1) / n * 360 - 180, lat(self.y))

    def storage_box(self) -> tuple[float, float, float, float] | None:
        """An EPSG:27700 box holding the tile and its buffer (None: no stored data can be in it).

        The tile's lon/lat box, widened by the buffer, is cut to where EPSG:27700 is defined and
        projected with densified edges (they curve in BNG), so the box is never too small.
        """
        w, s, e, n = self.lonlat_bounds()
        pad = (BUFFER / EXTENT + 0.01) * max(e - w, n - s)
        clipped = clip_bbox((w - pad, s - pad, e + pad, n + pad), STORAGE_AREA)
        if clipped is None:
            return None
        box = _TO_BNG.transform_bounds(*clipped, densify_pts=21)
        return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


@dataclass(frozen=True)
class Attr:
    """One published attribute: its name in the tile, its SQL (fixed), its TileJSON type."""

    name: str
    sql: str
    kind: str = "String"  # TileJSON vector_layers field type: String, Number, Boolean
    description: str = ""


@dataclass(frozen=True)
class TileLayer:
    """A table's rows as one MVT layer (names and SQL here are constants of the code)."""

    name: str
    table: str
    attributes: tuple[Attr, ...]
    geometry: str = "point"  # point, line or polygon (TileJSON, documentation)
    geom: str = "geom"
    id: str = "id"
    where: str = "TRUE"  # fixed SQL; its values are bound parameters (``params``)
    max_features: int = 10_000
    description: str = ""
    expanding: tuple[str, ...] = ()  # bound parameters that are lists (IN)

    def fields(self) -> dict[str, str]:
        """TileJSON ``fields``: attribute name -> type."""
        return {a.name: a.kind for a in self.attributes}


@dataclass(frozen=True)
class LayerTile:
    """One layer's part of a tile: the MVT bytes, the features in it, whether the cap cut some."""

    data: bytes
    features: int
    capped: bool = False


@dataclass(frozen=True)
class CellLayer:
    """Counts of a point table's rows per square EPSG:3857 cell, as an MVT polygon layer."""

    name: str
    table: str
    geom: str = "geom"
    where: str = "TRUE"
    cells_per_tile_bits: int = 4  # 2**4 = 16 cells across a tile
    finest_zoom: int = 13  # cells never smaller than at this zoom
    description: str = ""
    expanding: tuple[str, ...] = ()
    count_attr: Attr = field(
        default_factory=lambda: Attr("count", "", "Number", "Incidents in the cell")
    )

    def cell_m(self, z: int) -> float:
        """Cell width in EPSG:3857 metres at zoom ``z`` (a power-of-two fraction of a tile)."""
        return 2 * HALF_WORLD_M / (1 << (min(z, self.finest_zoom) + self.cells_per_tile_bits))

    def fields(self) -> dict[str, str]:
        """TileJSON ``fields``: attribute name -> type."""
        return {self.count_attr.name: self.count_attr.kind}


# Projecting each point with ST_Transform (EPSG:27700 -> 3857, a datum shift) costs ~5 us: 60 ms
# for a tile of 12,000 incidents. Over one tile the projection is nearly affine, so a tile's
# points are moved by the affine map fitted to PostGIS's own ST_Transform of a 5 x 5 grid of
# the tile's box, when that map is within MAX_AFFINE_ERROR tile units of it at every grid
# point (at zoom 14 over Medway: 0.37 units, 0.2 m); bigger tiles keep ST_Transform.
MAX_AFFINE_ERROR = 0.5
_CONTROL = (
    "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(x, y), "
    f"{BNG}), {WEB_MERCATOR}) AS g FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) "
    "AS u(x, y)) q"
)
_AFFINE_KEYS = ("ta", "tb", "tx", "td", "te", "ty")


def _to_mercator(geom: str, affine: bool) -> str:
    if not affine:
        return f"ST_Transform({geom}, {WEB_MERCATOR})"
    return f"ST_SetSRID(ST_Affine({geom}, :ta, :tb, :td, :te, :tx, :ty), {WEB_MERCATOR})"


def _fit_affine(session: Session, tile: TileId, box: tuple[float, float, float, float]) -> Any:
    """Affine coefficients (ta, tb, tx, td, te, ty) for ``tile``, or None when not close enough."""
    import numpy as np

    gx, gy = np.meshgrid(np.linspace(box[0], box[2], 5), np.linspace(box[1], box[3], 5))
    xs, ys = gx.ravel(), gy.ravel()
    bound = {"xs": [float(v) for v in xs], "ys": [float(v) for v in ys]}
    got = np.array(session.execute(text(_CONTROL), bound).all(), dtype=float)
    design = np.column_stack([xs, ys, np.ones_like(xs)])
    cx = np.linalg.lstsq(design, got[:, 0], rcond=None)[0]
    cy = np.linalg.lstsq(design, got[:, 1], rcond=None)[0]
    error = np.hypot(design @ cx - got[:, 0], design @ cy - got[:, 1]).max()
    if not error / tile.span_m * EXTENT <= MAX_AFFINE_ERROR:
        return None
    return tuple(float(v) for v in (*cx, *cy))  # floats: never numpy reprs in the SQL


_AFFINES: dict[TileId, Any] = {}


def tile_affine(session: Session, tile: TileId) -> dict[str, float] | None:
    """The tile's affine EPSG:27700 -> 3857 map as bound parameters (cached), or None."""
    if tile not in _AFFINES:
        box = tile.storage_box()
        if len(_AFFINES) > 20_000:
            _AFFINES.clear()
        _AFFINES[tile] = None if box is None else _fit_affine(session, tile, box)
    coeffs = _AFFINES[tile]
    return None if coeffs is None else dict(zip(_AFFINE_KEYS, coeffs, strict=True))


def _params(
    session: Session, tile: TileId, box: tuple[float, float, float, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "bx0": box[0],
        "by0": box[1],
        "bx1": box[2],
        "by1": box[3],
    }
    out.update(tile_affine(session, tile) or {})
    return out


def _no_jit(session: Session) -> None:
    """JIT off for this transaction: ST_Transform's cost estimate makes the planner compile a
    tile query, which took 300-700 ms for a query that runs in 20 (measured, 100k incidents)."""
    session.execute(text("SET LOCAL jit = off"))


def _bind(sql: str, expanding: Sequence[str]) -> Any:
    stmt = text(sql)
    if expanding:
        stmt = stmt.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return stmt


def layer_sql(layer: TileLayer, affine: bool = False) -> str:
    """The SQL of one layer's tile: (mvt bytes, rows up to max_features + 1)."""
    attrs = "".join(f", {a.sql} AS {a.name}" for a in layer.attributes)
    mvt_geom = (
        f"ST_AsMVTGeom({_to_mercator(layer.geom, affine)}, "
        f"ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true)"
    )
    # OFFSET 0 keeps the planner from testing ST_AsMVTGeom in the scan and computing it again;
    # picked is in fid order, so the first :cap of it are the features kept.
    return (
        "WITH picked AS MATERIALIZED (SELECT * FROM ("
        f"SELECT {layer.id} AS fid{attrs}, {mvt_geom} AS geom FROM {layer.table} "
        f"WHERE {layer.geom} && ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {BNG}) "
        f"AND ({layer.where}) OFFSET 0) s WHERE geom IS NOT NULL ORDER BY fid LIMIT :cap + 1) "
        "SELECT (SELECT ST_AsMVT(t, :layer, "
        f"{EXTENT}, 'geom', 'fid') FROM (SELECT * FROM picked LIMIT :cap) t), "
        "(SELECT count(*) FROM picked)"
    )


def layer_tile(
    session: Session, layer: TileLayer, tile: TileId, params: Mapping[str, Any] | None = None
) -> LayerTile:
    """One tile of ``layer``: at most ``max_features`` features in id order."""
    box = tile.storage_box()
    if box is None:
        return LayerTile(b"", 0)
    bound = {**_params(session, tile, box), "cap": layer.max_features, "layer": layer.name}
    bound.update(params or {})
    _no_jit(session)
    sql = layer_sql(layer, affine="ta" in bound)
    data, rows = session.execute(_bind(sql, layer.expanding), bound).one()
    found = int(rows or 0)
    return LayerTile(bytes(data or b""), min(found, layer.max_features), found > layer.max_features)


def cell_sql(layer: CellLayer, affine: bool = False) -> str:
    """The SQL of a counts-per-cell tile."""
    return (
        f"WITH pts AS MATERIALIZED (SELECT {_to_mercator(layer.geom, affine)} AS g "
        f"FROM {layer.table} "
        f"WHERE {layer.geom} && ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {BNG}) "
        f"AND ({layer.where})), "
        "cells AS MATERIALIZED (SELECT floor(ST_X(g) / :cell)::bigint AS cx, "
        "floor(ST_Y(g) / :cell)::bigint AS cy, count(*)::int AS n FROM pts GROUP BY 1, 2) "
        f"SELECT ST_AsMVT(t, :layer, {EXTENT}, 'geom'), "
        f"coalesce(sum(t.{layer.count_attr.name}), 0), count(*) FROM ("
        f"SELECT n AS {layer.count_attr.name}, ST_AsMVTGeom(ST_MakeEnvelope(cx * :cell, "
        f"cy * :cell, (cx + 1) * :cell, (cy + 1) * :cell, {WEB_MERCATOR}), "
        f"ST_TileEnvelope(:z, :x, :y), {EXTENT}, 0, true) AS geom FROM cells "
        "WHERE cx BETWEEN :cx0 AND :cx1 AND cy BETWEEN :cy0 AND :cy1) t WHERE geom IS NOT NULL"
    )


def cell_range(tile: TileId, cell_m: float) -> tuple[int, int, int, int]:
    """Indices (cx0, cy0, cx1, cy1) of the cells inside ``tile`` (cells align on tile edges)."""
    minx, miny, maxx, maxy = tile.mercator_bounds()
    return (
        round(minx / cell_m),
        round(miny / cell_m),
        round(maxx / cell_m) - 1,
        round(maxy / cell_m) - 1,
    )


def cell_tile(
    session: Session, layer: CellLayer, tile: TileId, params: Mapping[str, Any] | None = None
) -> LayerTile:
    """Counts per cell of the tile (features: the cells drawn)."""
    box = tile.storage_box()
    if box is None:
        return LayerTile(b"", 0)
    cell = layer.cell_m(tile.z)
    cx0, cy0, cx1, cy1 = cell_range(tile, cell)
    bound = {**_params(session, tile, box), "cell": cell, "layer": layer.name}
    bound.update(cx0=cx0, cy0=cy0, cx1=cx1, cy1=cy1, **(params or {}))
    _no_jit(session)
    sql = cell_sql(layer, affine="ta" in bound)
    data, _, cells = session.execute(_bind(sql, layer.expanding), bound).one()
    return LayerTile(bytes(data or b""), int(cells or 0))


# --- the layers of shared data: wards (public) and incidents (protected) ----------------------

WARDS = TileLayer(
    name="wards",
    table="core.boundary_areas",
    attributes=(Attr("code", "code", "String", "Ward code"), Attr("name", "name", "String")),
    geometry="polygon",
    where="layer = 'ward'",
    max_features=2_000,
    description="Electoral wards of the partnership (core.boundary_areas)",
)
WARDS_VERSION = (
    "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(loaded_at)::text, '') "
    "FROM core.boundary_areas WHERE layer = 'ward'"
)
# Optional filters every incident query keeps: no category list means every category.
_INCIDENT_WHERE = (
    "(:any_category OR category IN :categories) "
    "AND (CAST(:t0 AS timestamptz) IS NULL OR occurred_at >= CAST(:t0 AS timestamptz)) "
    "AND (CAST(:t1 AS timestamptz) IS NULL OR occurred_at < CAST(:t1 AS timestamptz))"
)
INCIDENT_POINTS = TileLayer(
    name="incidents",
    table="incidents.incidents",
    attributes=(
        Attr("category", "category", "String", "Crime or incident type"),
        Attr("source", "source", "String", "Source (police, stats19, fire, water ...)"),
        Attr(
            "occurred_at",
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            "String",
            "When (UTC); month-only sources carry the 1st of the month",
        ),
        Attr("time_precision", "time_precision", "String", "exact or month"),
    ),
    where=_INCIDENT_WHERE,
    max_features=25_000,
    expanding=("categories",),
    description="Incidents as points (analysts and admins, from zoom 14)",
)
INCIDENT_CELLS = CellLayer(
    name="incident_cells",
    table="incidents.incidents",
    where=_INCIDENT_WHERE,
    expanding=("categories",),
    description="Incidents counted per square cell (1/16 of a tile; never finer than zoom 13's)",
)
# Incidents are only ever added by imports (INSERT ... ON CONFLICT DO NOTHING), so the imports
# and the newest id say whether the table changed.
INCIDENTS_VERSION = (
    "SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' "
    "|| coalesce(max(finished_at)::text, '') FROM incidents.imports) "
    "|| ':' || coalesce((SELECT max(id) FROM incidents.incidents), 0)"
)


def version_of(session: Session, sql: str) -> str:
    """The data version a fixed query gives (the ETag's base)."""
    return str(session.execute(text(sql)).scalar_one())
