"""From incident points to hotspot outputs: grid, KDE or Gi* surface, polygons, COG, map.

No database and no web framework here: the CLI (file input) and the service (database input)
both call these functions. Coordinates are EPSG:27700 metres; outputs for people are WGS84.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shared.grid import Grid

if TYPE_CHECKING:
    from shared.extent import Extent

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[float, str], None]

MIN_CELL_M = 1.0
DENSITY_UNITS = "incidents per km2"
FORMATS = ("police", "stats19", "generic")


class ParamError(ValueError):
    """A parameter that makes no sense; ``field`` names it for the API and the CLI."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Points:
    """Incidents as arrays: EPSG:27700 metres, weights, UTC times, categories."""

    x: FloatArray
    y: FloatArray
    weight: FloatArray
    t: npt.NDArray[np.datetime64]
    category: npt.NDArray[np.str_]
    rejected: int = 0

    def __len__(self) -> int:
        return int(self.x.size)


@dataclass(frozen=True)
class HotspotShape:
    """One hotspot polygon (shapely MultiPolygon, EPSG:27700) with its peak, mean and area."""

    rank: int
    peak: float
    mean: float
    area_m2: float
    geom: Any


@dataclass
class SurfaceResult:
    """A computed surface over ``grid`` (ny, nx), its hotspots and what produced it."""

    kind: str
    grid: Grid
    surface: FloatArray
    shapes: list[HotspotShape]
    params: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def _noop(fraction: float, message: str) -> None:
    return None


# ------------------------------------------------------------------------------------------
# Input
# ------------------------------------------------------------------------------------------


def filter_points(
    pts: Points,
    *,
    categories: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox_m: tuple[float, float, float, float] | None = None,
) -> Points:
    """Keep incidents in ``categories``, in [start, end) and inside ``bbox_m``."""
    keep = np.ones(len(pts), dtype=bool)
    if categories:
        keep &= np.isin(pts.category, list(categories))
    if start is not None:
        keep &= pts.t >= np.datetime64(_naive_utc(start), "s")
    if end is not None:
        keep &= pts.t < np.datetime64(_naive_utc(end), "s")
    if bbox_m is not None:
        minx, miny, maxx, maxy = bbox_m
        keep &= (pts.x >= minx) & (pts.x <= maxx) & (pts.y >= miny) & (pts.y <= maxy)
    return Points(pts.x[keep], pts.y[keep], pts.weight[keep], pts.t[keep], pts.category[keep],
                  pts.rejected)


def _naive_utc(d: datetime) -> datetime:
    if d.tzinfo is None:
        return d
    from datetime import UTC

    return d.astimezone(UTC).replace(tzinfo=None)


def points_from_file(path: str | Path, *, fmt: str, extent: Extent | None = None) -> Points:
    """Parse an incident file (police, stats19 or generic CSV/zip) into arrays; bad rows counted.

    Rows outside ``extent`` (default: the partnership's outline and default margin) are bad
    rows, so they never stretch the surface's extent.
    """
    from shared.incidents.parsers import parse_file

    if fmt not in FORMATS:
        raise ParamError("format", f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    rows = []
    rejected = 0
    for res in parse_file(path, source=fmt, extent=extent):
        rows.extend(res.rows)
        rejected += len(res.errors)
    n = len(rows)
    return Points(
        x=np.fromiter((r.x for r in rows), np.float64, n),
        y=np.fromiter((r.y for r in rows), np.float64, n),
        weight=np.fromiter((r.weight for r in rows), np.float64, n),
        t=np.array([_naive_utc(r.occurred_at) for r in rows], dtype="datetime64[s]").reshape(n),
        category=np.array([r.category for r in rows], dtype=str).reshape(n),
        rejected=rejected,
    )


# ------------------------------------------------------------------------------------------
# Grid and parameters
# ------------------------------------------------------------------------------------------


def check_common(
    *, radius_m: float | None, cell_m: float | None, percentile: float | None = None
) -> None:
    """Raise :class:`ParamError` for a non-positive radius or cell, or a percentile off 0..100."""
    if radius_m is not None and not (math.isfinite(radius_m) and radius_m > 0):
        raise ParamError("radius_m", "must be a positive number of metres")
    if cell_m is not None and not (math.isfinite(cell_m) and cell_m >= MIN_CELL_M):
        raise ParamError("cell_m", f"must be at least {MIN_CELL_M:g} m")
    if percentile is not None and not (0 < percentile < 100):
        raise ParamError("percentile", "must be between 0 and 100 (exclusive)")


def choose_grid(
    x: FloatArray,
    y: FloatArray,
    *,
    cell_m: float | None,
    pad_m: float,
    bbox_m: tuple[float, float, float, float] | None = None,
    max_cells: int,
) -> Grid:
    """An aligned grid over ``bbox_m`` or the points padded by ``pad_m``, of ``max_cells`` at most.

    Without ``cell_m`` the ArcGIS default (shorter side / 250) is used, rounded to whole metres.
    The cell count is checked before anything is allocated: ``GridTooLarge`` names the limit.
    """
    from shared.extent import cells_for_bounds, check_cells
    from shared.kde import default_cell_m

    if bbox_m is not None:
        minx, miny, maxx, maxy = bbox_m
        if not (maxx > minx and maxy > miny):
            raise ParamError("bbox", "must be (minx, miny, maxx, maxy) with min < max")
    else:
        if x.size == 0:
            raise ParamError("input", "no incidents match the filters")
        minx, miny = float(x.min()) - pad_m, float(y.min()) - pad_m
        maxx, maxy = float(x.max()) + pad_m, float(y.max()) + pad_m
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ParamError("bbox", "must be finite numbers")
    if cell_m is None:
        short = min(maxx - minx, maxy - miny)
        if not short > 0:
            raise ParamError("cell_m", "the incidents lie on a line: give a cell size")
        cell_m = max(MIN_CELL_M, float(round(default_cell_m(minx, miny, maxx, maxy))))
    nx, ny = cells_for_bounds(minx, miny, maxx, maxy, cell_m)
    check_cells(nx, ny, max_cells, what=f"surface grid of {cell_m:g} m cells")
    return Grid.covering(minx, miny, maxx, maxy, cell_m)


# ------------------------------------------------------------------------------------------
# Surfaces
# ------------------------------------------------------------------------------------------


def compute_kde(
    pts: Points,
    *,
    method: str = "exact",
    kernel: str = "quartic",
    radius_m: float | None = None,
    cell_m: float | None = None,
    percentile: float = 95.0,
    bbox_m: tuple[float, float, float, float] | None = None,
    use_weights: bool = True,
    progress: Progress = _noop,
    max_cells: int,
) -> SurfaceResult:
    """KDE surface (incidents per km2) and polygons of cells at or above the percentile.

    ``max_cells`` bounds the grid (``GridTooLarge`` before anything is allocated).
    """
    from shared.kde import KERNELS, METHODS, kde_surface

    if method not in METHODS:
        raise ParamError("method", f"must be one of {', '.join(METHODS)}")
    if kernel not in KERNELS:
        raise ParamError("kernel", f"must be one of {', '.join(KERNELS)}")
    check_common(radius_m=radius_m, cell_m=cell_m, percentile=percentile)
    if len(pts) == 0:
        raise ParamError("input", "no incidents match the filters")
    w = pts.weight if use_weights else np.ones(len(pts))
    radius_m = kde_radius(pts.x, pts.y, w, radius_m)
    grid = choose_grid(pts.x, pts.y, cell_m=cell_m, pad_m=radius_m, bbox_m=bbox_m,
                       max_cells=max_cells)
    progress(0.2, f"KDE on {grid.nx}x{grid.ny} cells")
    t0 = time.perf_counter()
    surface = kde_surface(pts.x, pts.y, grid, radius_m, weights=w, kernel=kernel, method=method)
    seconds = time.perf_counter() - t0
    progress(0.7, "hotspot polygons")
    positive = surface[surface > 0]
    threshold = float(np.percentile(positive, percentile)) if positive.size else math.inf
    shapes = hotspot_shapes(surface, grid, surface >= threshold) if positive.size else []
    params = {
        "kind": "kde", "method": method, "kernel": kernel, "radius_m": radius_m,
        "cell_m": grid.cell_size_m, "percentile": percentile, "use_weights": use_weights,
    }
    stats = _stats(surface, grid, pts, w, seconds)
    stats.update(threshold=threshold if math.isfinite(threshold) else None,
                 units=DENSITY_UNITS, hotspots=len(shapes))
    return SurfaceResult("kde", grid, surface, shapes, params, stats)


def kde_radius(x: FloatArray, y: FloatArray, w: FloatArray, radius_m: float | None) -> float:
    """``radius_m``, or the ArcGIS default radius of the points rounded to whole metres (>= 1)."""
    from shared.kde import default_radius_m

    if radius_m is not None:
        return float(radius_m)
    try:
        return max(float(round(default_radius_m(x, y, w))), 1.0)
    except ValueError as exc:
        raise ParamError("radius_m", f"no default radius: {exc}; give one") from exc


def compute_gistar(
    pts: Points,
    *,
    cell_m: float | None = None,
    neighbourhood_cells: float = 1.0,
    min_bin: int = 2,
    bbox_m: tuple[float, float, float, float] | None = None,
    use_weights: bool = True,
    progress: Progress = _noop,
    max_cells: int,
) -> SurfaceResult:
    """Gi* z-score surface of cell counts (FDR bins) and polygons of hot cells at ``min_bin``+.

    ``max_cells`` bounds the grid (``GridTooLarge`` before anything is allocated).
    """
    from services.hotspots.compute.gistar import gistar

    check_common(radius_m=None, cell_m=cell_m)
    if not (math.isfinite(neighbourhood_cells) and 1 <= neighbourhood_cells <= 50):
        raise ParamError("neighbourhood", "must be between 1 and 50 cells")
    if min_bin not in (1, 2, 3):
        raise ParamError("min_bin", "must be 1 (90%), 2 (95%) or 3 (99%)")
    if len(pts) == 0:
        raise ParamError("input", "no incidents match the filters")
    grid = choose_grid(pts.x, pts.y, cell_m=cell_m, pad_m=0.0, bbox_m=bbox_m,
                       max_cells=max_cells)
    w = pts.weight if use_weights else np.ones(len(pts))
    counts = np.zeros(grid.shape)
    row, col, inside = grid.cell_index(pts.x, pts.y)
    np.add.at(counts, (row[inside], col[inside]), w[inside])
    progress(0.3, f"Gi* on {grid.nx}x{grid.ny} cells")
    t0 = time.perf_counter()
    res = gistar(counts, neighbourhood_cells=neighbourhood_cells, fdr=True)
    seconds = time.perf_counter() - t0
    progress(0.7, "hot-spot polygons")
    z = np.asarray(res.z, dtype=np.float64)
    shapes = hotspot_shapes(np.nan_to_num(z, nan=0.0), grid, res.bins >= min_bin)
    params = {"kind": "gistar", "cell_m": grid.cell_size_m,
              "neighbourhood_cells": neighbourhood_cells, "min_bin": min_bin, "fdr": True,
              "use_weights": use_weights}
    stats = _stats(z, grid, pts, w, seconds)
    stats.update(units="Gi* z-score", hotspots=len(shapes),
                 hot_cells={str(b): int((res.bins == b).sum()) for b in (1, 2, 3)},
                 cold_cells={str(b): int((res.bins == -b).sum()) for b in (1, 2, 3)})
    return SurfaceResult("gistar", grid, z, shapes, params, stats)


def _stats(
    surface: FloatArray, grid: Grid, pts: Points, w: FloatArray, seconds: float
) -> dict[str, Any]:
    finite = surface[np.isfinite(surface)]
    return {
        "incidents": len(pts),
        "total_weight": float(w.sum()),
        "nx": grid.nx,
        "ny": grid.ny,
        "bounds_27700": list(grid.bounds),
        "max": float(finite.max()) if finite.size else None,
        "mean": float(finite.mean()) if finite.size else None,
        "compute_seconds": round(seconds, 4),
    }


def hotspot_shapes(surface: FloatArray, grid: Grid, mask: npt.ArrayLike) -> list[HotspotShape]:
    """One MultiPolygon per edge-connected group of masked cells, ranked by peak value."""
    from shapely.geometry import MultiPolygon

    from services.hotspots.compute.polygons import hotspot_polygons

    polys = hotspot_polygons(surface, grid, mask=np.asarray(mask, dtype=bool))
    out = []
    for rank, p in enumerate(polys, start=1):
        g = p["geometry"]
        mp = g if g.geom_type == "MultiPolygon" else MultiPolygon([g])
        out.append(HotspotShape(rank, p["peak"], p["mean"], p["area_m2"], mp))
    return out


# ------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------


def write_surface_tif(path: str | Path, result: SurfaceResult) -> Path:
    """Write the surface as a float32 Cloud Optimized GeoTIFF (EPSG:27700) with its parameters.

    Cells that are 0 or NaN are nodata (no incident within reach, or outside the study area).
    """
    from services.hotspots.compute.raster import write_cog

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tags = {
        "units": str(result.stats.get("units", DENSITY_UNITS)),
        "kind": result.kind,
        "parameters": json.dumps(result.params, sort_keys=True),
        **{f"param_{k}": str(v) for k, v in result.params.items()},
        "incidents": str(result.stats.get("incidents", "")),
        "crs": "EPSG:27700",
    }
    write_cog(p, result.surface, result.grid, tags=tags)
    return p


def read_surface_tif(
    path: str | Path, *, max_cells: int | None = None
) -> tuple[FloatArray, Grid, dict[str, str]]:
    """Read a single-band surface in EPSG:27700 back as (array (ny, nx), Grid, tags).

    With ``max_cells`` a larger raster is refused (``GridTooLarge``) before it is read.
    """
    import rasterio

    from shared.extent import check_cells

    with rasterio.open(path) as src:
        if max_cells is not None:
            check_cells(src.width, src.height, max_cells, what="surface")
        if src.crs is None or src.crs.to_epsg() != 27700:
            raise ParamError("surface", "the surface must be in EPSG:27700 (British National Grid)")
        t = src.transform
        if t.b != 0 or t.d != 0 or t.a != -t.e:
            raise ParamError("surface", "the surface must be north-up with square cells")
        arr = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        tags = dict(src.tags())
        ny, nx = arr.shape
        try:
            grid = Grid(cell_size_m=t.a, x0=t.c, y0=t.f - ny * t.a, nx=nx, ny=ny)
        except ValueError as exc:
            raise ParamError("surface", f"grid not aligned to its cell size: {exc}") from exc
    return arr, grid, tags


def shapes_geojson(
    shapes: Sequence[HotspotShape], params: dict[str, Any], *, run_id: int | None = None
) -> dict[str, Any]:
    """Hotspot polygons as an RFC 7946 FeatureCollection (WGS84) carrying the run's parameters."""
    feats = [
        _feature_wgs84(s.geom, {"rank": s.rank, "peak": s.peak, "mean": s.mean,
                                "area_m2": s.area_m2, **({"run": run_id} if run_id else {})},
                       fid=s.rank)
        for s in shapes
    ]
    return {"type": "FeatureCollection", "features": feats, "parameters": params}


def _feature_wgs84(geom: Any, props: dict[str, Any], *, fid: int | str) -> dict[str, Any]:
    from shapely.geometry import mapping

    return {"type": "Feature", "id": fid, "geometry": mapping(to_wgs84_geom(geom)),
            "properties": props}


def to_wgs84_geom(geom: Any) -> Any:
    """A shapely geometry from EPSG:27700 to WGS84 lon/lat, 7 decimals (about 1 cm)."""
    import shapely

    from shared.geometry import to_wgs84

    def tr(coords: FloatArray) -> FloatArray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1])
        out = np.asarray(np.round(np.column_stack([lon, lat]), 7), dtype=np.float64)
        return out

    return shapely.transform(geom, tr)


def to_bng_geom(geom: Any) -> Any:
    """A shapely geometry from WGS84 lon/lat to EPSG:27700 metres."""
    import shapely

    from shared.geometry import to_bng

    def tr(coords: FloatArray) -> FloatArray:
        x, y = to_bng(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, tr)


def surface_png_wgs84(
    surface: FloatArray, grid: Grid, *, diverging: bool = False
) -> tuple[str, tuple[float, float, float, float], tuple[float, float]]:
    """Warp the surface to EPSG:4326 and colour it: (PNG data URL, lon/lat bounds, value range).

    Zero and nodata cells are transparent. Warping (bilinear) keeps the overlay in the right
    place: Leaflet stretches an image linearly between its lat/lon bounds.
    """
    import rasterio.warp
    from affine import Affine
    from matplotlib import colormaps
    from PIL import Image

    src = np.where(np.isfinite(surface), surface, np.nan).astype(np.float64)
    src_t = Affine(*grid.transform())
    dst_t, w, h = rasterio.warp.calculate_default_transform(
        "EPSG:27700", "EPSG:4326", grid.nx, grid.ny, *grid.bounds
    )
    dst = np.full((h, w), np.nan)
    rasterio.warp.reproject(
        src, dst, src_transform=src_t, src_crs="EPSG:27700", dst_transform=dst_t,
        dst_crs="EPSG:4326", src_nodata=np.nan, dst_nodata=np.nan,
        resampling=rasterio.warp.Resampling.bilinear,
    )
    finite = dst[np.isfinite(dst)]
    if diverging:
        top = float(np.abs(finite).max()) if finite.size else 1.0
        lo, hi = -top, top
        cmap = colormaps["RdBu_r"]
        transparent = ~np.isfinite(dst) | (np.abs(dst) < 1.96)
    else:
        lo, hi = 0.0, float(finite.max()) if finite.size else 1.0
        cmap = colormaps["YlOrRd"]
        transparent = ~np.isfinite(dst) | (dst <= hi * 1e-3)
    norm = np.clip((np.nan_to_num(dst, nan=lo) - lo) / ((hi - lo) or 1.0), 0, 1)
    rgba = (cmap(norm) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(transparent, 0, 200)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    west, north = dst_t.c, dst_t.f
    east, south = west + w * dst_t.a, north + h * dst_t.e
    return url, (west, south, east, north), (lo, hi)


def surface_map(
    surface: FloatArray,
    grid: Grid,
    polygons_geojson: dict[str, Any],
    *,
    title: str,
    units: str,
    diverging: bool = False,
) -> Any:
    """A folium map: the surface as a warped image overlay, hotspot outlines and a legend.

    Folium gets geometry and numbers only (a run's parameters hold people's text, such as
    categories); the legend is escaped markup added verbatim (``shared.maps.RawHtml``).
    """
    import folium
    from matplotlib import colormaps

    from shared.maps import RawHtml, make_map

    url, (w, s, e, n), (lo, hi) = surface_png_wgs84(surface, grid, diverging=diverging)
    m = make_map(bounds=(w, s, e, n))
    folium.raster_layers.ImageOverlay(
        image=url, bounds=[[s, w], [n, e]], name="surface", opacity=0.85, interactive=False
    ).add_to(m)
    keep = ("rank", "peak", "area_m2")
    shapes = [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {k: _number(f.get("properties", {}).get(k)) for k in keep}}
        for f in polygons_geojson.get("features", [])
    ]
    if shapes:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": shapes},
            name="hotspots",
            style_function=lambda _f: {"color": "#5a0a6b", "weight": 2, "fillOpacity": 0.0},
            tooltip=folium.GeoJsonTooltip(fields=["rank", "peak", "area_m2"],
                                          aliases=["rank", "peak", "area m²"]),
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    cmap = colormaps["RdBu_r" if diverging else "YlOrRd"]
    stops = ", ".join(
        "#{:02x}{:02x}{:02x}".format(*(int(c * 255) for c in cmap(i / 4)[:3])) for i in range(5)
    )
    legend = (
        '<div id="csp-legend" style="position:absolute;bottom:28px;right:10px;z-index:1000;'
        "background:#fff;padding:6px 8px;border-radius:4px;font:12px sans-serif;"
        'box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:60%">'
        f"<div><b>{_esc(title)}</b></div>"
        f'<div style="height:10px;background:linear-gradient(to right,{stops})"></div>'
        f'<div style="display:flex;justify-content:space-between;gap:8px"><span>{lo:.3g}</span>'
        f"<span>{_esc(units)}</span><span>{hi:.3g}</span></div>"
        '<div><span style="display:inline-block;width:12px;height:8px;border:2px solid #5a0a6b">'
        "</span> hotspot</div></div>"
    )
    m.get_root().html.add_child(RawHtml(legend))  # type: ignore[attr-defined]
    return m


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _esc(s: str) -> str:
    import html

    return html.escape(s, quote=True)


def road_sites(
    pts: Points,
    *,
    min_collisions: int = 4,
    radius_m: float = 50.0,
    years: float = 3.0,
    end: datetime | None = None,
    max_pairs: int,
) -> list[Any]:
    """Road-casualty cluster sites (KSI weights are the incidents' weights), ranked.

    ``max_pairs`` bounds the neighbour lists the search makes (``GridTooLarge`` beyond it).
    """
    from services.hotspots.compute.clusters import cluster_sites

    if min_collisions < 1:
        raise ParamError("min_collisions", "must be at least 1")
    if not (math.isfinite(radius_m) and 0 < radius_m <= 5000):
        raise ParamError("radius_m", "must be between 0 and 5000 m")
    if not (math.isfinite(years) and 0 < years <= 50):
        raise ParamError("years", "must be between 0 and 50")
    end64 = None if end is None else np.datetime64(_naive_utc(end), "s")
    return cluster_sites(pts.x, pts.y, pts.t, pts.weight, min_collisions=min_collisions,
                         radius_m=radius_m, years=years, end=end64, max_pairs=max_pairs)


def sites_geojson(sites: Sequence[Any], params: dict[str, Any]) -> dict[str, Any]:
    """Cluster sites as a WGS84 FeatureCollection: circle-union polygons with counts and KSI."""
    feats = []
    for s in sites:
        cx, cy = float(s.centroid_x), float(s.centroid_y)
        props = {
            "rank": s.rank, "n_collisions": int(s.n_collisions), "ksi_sum": round(s.ksi_sum, 4),
            "first": str(s.first), "last": str(s.last),
            "centroid_x_27700": round(cx, 1), "centroid_y_27700": round(cy, 1),
        }
        feats.append(_feature_wgs84(s.polygon, props, fid=s.rank))
    return {"type": "FeatureCollection", "features": feats, "parameters": params}
