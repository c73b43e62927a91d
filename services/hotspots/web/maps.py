"""A surface as a map for people: the surface warped to WGS84 as a PNG overlay, the hotspot
outlines and a legend, drawn by folium from geometry and numbers only."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from services.hotspots.compute.points import FloatArray
from services.hotspots.compute.raster import read_surface_tif
from services.hotspots.runs import service
from shared.grid import Grid

if TYPE_CHECKING:
    from shared.maps import Bindings


def surface_png_wgs84(
    surface: FloatArray, grid: Grid, *, diverging: bool = False, faint: float | None = None
) -> tuple[str, tuple[float, float, float, float], tuple[float, float]]:
    """Warp the surface to EPSG:4326 and colour it: (PNG data URL, lon/lat bounds, value range).

    Zero and nodata cells are transparent, and on a diverging surface those within ``faint``
    of 0 (default 1.96: Gi* z-scores short of 95% confidence). Warping (bilinear) keeps the
    overlay in the right place: Leaflet stretches an image linearly between its bounds.
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
        cut = 1.96 if faint is None else faint
        transparent = ~np.isfinite(dst) | (np.abs(dst) < cut) | (dst == 0)
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
    tile_url: str = "",
    tile_attribution: str | None = None,
    bindings: Bindings | None = None,
) -> Any:
    """A folium map: the surface as a warped image overlay, hotspot outlines and a legend.

    Folium gets geometry and numbers only (a run's parameters hold people's text, such as
    categories, and a ward's name comes from an imported boundary file): each hotspot's
    tooltip (rank, ward, grid reference, peak, area) travels as data in ``bindings`` (render
    the map with them); the legend is escaped markup added verbatim (``shared.maps.RawHtml``).
    Tiles come from ``tile_url`` (empty: none; the outline, wards and LSOAs the suite holds are
    drawn either way, by ``shared.maps.make_map``).
    """
    import folium

    from shared.maps import RawHtml, make_map

    url, (w, s, e, n), (lo, hi) = surface_png_wgs84(surface, grid, diverging=diverging)
    m = make_map(bounds=(w, s, e, n), tiles=tile_url, tile_attribution=tile_attribution)
    folium.raster_layers.ImageOverlay(
        image=url,
        bounds=[[s, w], [n, e]],
        name="surface",
        opacity=0.85,
        interactive=False,
        alt="The surface: colours as in the legend",
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
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": shapes},
            name="hotspots",
            style_function=lambda _f: {"color": "#5a0a6b", "weight": 2, "fillOpacity": 0.0},
        ).add_to(m)
        if bindings is not None:
            props = [f.get("properties", {}) for f in polygons_geojson.get("features", [])]
            tips = {p.get("rank"): {"tooltip": hotspot_tip(p, units)} for p in props}
            bindings.bind_features(layer, key="rank", entries=tips)
    folium.LayerControl(collapsed=True).add_to(m)
    m.get_root().html.add_child(RawHtml(_legend(title, units, lo, hi, diverging)))  # type: ignore[attr-defined]
    return m


def hotspot_tip(props: dict[str, Any], units: str) -> list[Any]:
    """A hotspot's tooltip as data: rank, ward, OS grid reference, peak and area."""
    from shared.maps import h

    rank, peak, area = (_number(props.get(k)) for k in ("rank", "peak", "area_m2"))
    lines: list[Any] = [h("b", f"Hotspot {rank}")]
    where = [str(v) for v in (props.get("ward"), props.get("grid_ref")) if v]
    if where:
        lines += [h("br"), " · ".join(where)]
    if peak is not None:
        lines += [h("br"), f"peak {_nice(peak)} {units}".rstrip()]
    if area is not None:
        lines += [h("br"), f"area {area / 10_000:.2f} ha"]
    return h("div", *lines)


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
        f'<div style="display:flex;justify-content:space-between;gap:8px"><span>{_nice(lo)}</span>'
        f"<span>{_esc(units)}</span><span>{_nice(hi)}</span></div>"
        '<div><span style="display:inline-block;width:12px;height:8px;border:2px solid #5a0a6b">'
        "</span> hotspot</div></div>"
    )


def _nice(value: float) -> str:
    """A number as people read it: whole with thousands commas from 100, else 3 figures."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def run_map_html(
    session: Session,
    *,
    run_id: int,
    output_dir: Path,
    max_cells: int,
    tile_url: str = "",
    tile_attribution: str | None = None,
) -> str:
    """A standalone folium map of a finished run: surface overlay, polygons and legend.

    A surface over ``max_cells`` (one stored before the limit) is refused before it is read.
    """
    from shared.maps import Bindings, render_map_html

    run = service.get_run(session, run_id=run_id)
    arr, grid, tags = read_surface_tif(
        service.tif_file(run, output_dir=output_dir), max_cells=max_cells
    )
    gj = service.run_polygons(session, run_id=run_id)
    kind = tags.get("kind", "kde")
    bindings = Bindings()
    title = f"Run {run_id}: {'Gi*' if kind == 'gistar' else kind.upper()}"
    m = surface_map(
        arr,
        grid,
        gj,
        title=title,
        units=tags.get("units", ""),
        diverging=kind == "gistar",
        tile_url=tile_url,
        tile_attribution=tile_attribution,
        bindings=bindings,
    )
    return accessible_document(render_map_html(m, bindings), title=f"{title}: hotspot map")


# folium's map header forbids zooming the page (``maximum-scale=1.0, user-scalable=no``): people
# who pinch to read must be able to (WCAG 1.4.4); and its document has no language or title.
_NO_ZOOM = re.compile(r",?\s*maximum-scale=[0-9.]+\s*,?\s*user-scalable=no")


def accessible_document(doc: str, *, title: str) -> str:
    """The map's document with a language, a title and a viewport that lets people zoom."""
    doc = _NO_ZOOM.sub("", doc, count=1)
    doc = doc.replace("<html>", '<html lang="en-GB">', 1)
    if "<title>" not in doc:
        doc = doc.replace("<head>", f"<head>\n<title>{_esc(title)}</title>", 1)
    return doc
