"""A surface as a map for people: the surface warped to WGS84 as a PNG overlay, the hotspot
outlines and a legend, drawn by folium from geometry and numbers only."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from services.hotspots.compute.points import FloatArray
from services.hotspots.compute.raster import read_surface_tif
from services.hotspots.runs import service
from shared.grid import Grid


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
        src,
        dst,
        src_transform=src_t,
        src_crs="EPSG:27700",
        dst_transform=dst_t,
        dst_crs="EPSG:4326",
        src_nodata=np.nan,
        dst_nodata=np.nan,
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

    from shared.maps import RawHtml, make_map

    url, (w, s, e, n), (lo, hi) = surface_png_wgs84(surface, grid, diverging=diverging)
    m = make_map(bounds=(w, s, e, n))
    folium.raster_layers.ImageOverlay(
        image=url, bounds=[[s, w], [n, e]], name="surface", opacity=0.85, interactive=False
    ).add_to(m)
    keep = ("rank", "peak", "area_m2")
    shapes = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {k: _number(f.get("properties", {}).get(k)) for k in keep},
        }
        for f in polygons_geojson.get("features", [])
    ]
    if shapes:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": shapes},
            name="hotspots",
            style_function=lambda _f: {"color": "#5a0a6b", "weight": 2, "fillOpacity": 0.0},
            tooltip=folium.GeoJsonTooltip(
                fields=["rank", "peak", "area_m2"], aliases=["rank", "peak", "area m²"]
            ),
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.get_root().html.add_child(RawHtml(_legend(title, units, lo, hi, diverging)))  # type: ignore[attr-defined]
    return m


def _legend(title: str, units: str, lo: float, hi: float, diverging: bool) -> str:
    """The legend's markup: escaped title and units, the colour ramp and the value range."""
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r" if diverging else "YlOrRd"]
    stops = ", ".join(
        "#{:02x}{:02x}{:02x}".format(*(int(c * 255) for c in cmap(i / 4)[:3])) for i in range(5)
    )
    return (
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


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def run_map_html(session: Session, *, run_id: int, output_dir: Path, max_cells: int) -> str:
    """A standalone folium map of a finished run: surface overlay, polygons and legend.

    A surface over ``max_cells`` (one stored before the limit) is refused before it is read.
    """
    from shared.maps import render_map_html

    run = service.get_run(session, run_id=run_id)
    arr, grid, tags = read_surface_tif(
        service.tif_file(run, output_dir=output_dir), max_cells=max_cells
    )
    gj = service.run_polygons(session, run_id=run_id)
    kind = tags.get("kind", "kde")
    m = surface_map(
        arr,
        grid,
        gj,
        title=f"Run {run_id}: {kind.upper()}",
        units=tags.get("units", ""),
        diverging=kind == "gistar",
    )
    return render_map_html(m)
