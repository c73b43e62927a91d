"""A comparison as a map for people: the difference surface (after minus before; red where the
rate rose, blue where it fell) and each changed area outlined in the colour of its change."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from services.hotspots.comparisons import service
from services.hotspots.compute.raster import read_surface_tif
from services.hotspots.web.maps import _nice, accessible_document, surface_png_wgs84

# Colour and words of each change (colour-blind safe: the RdBu ends, an orange, a dark grey).
CHANGES: dict[str, tuple[str, str]] = {
    "appeared": ("#b2182b", "appeared"),
    "grew": ("#e08214", "grew"),
    "stayed": ("#333333", "stayed about the same"),
    "shrank": ("#4393c3", "shrank"),
    "gone": ("#053061", "went"),
}


def area_tip(props: dict[str, Any]) -> list[Any]:
    """A changed area's tooltip as data: its change, ward, grid reference, incidents, area."""
    from shared.maps import h

    change = str(props.get("change", ""))
    words = CHANGES.get(change, ("", change))[1]
    lines: list[Any] = [h("b", f"Area {props.get('rank')}: {words}")]
    where = [str(v) for v in (props.get("ward"), props.get("grid_ref")) if v]
    if where:
        lines += [h("br"), " · ".join(where)]
    lines += [
        h("br"),
        f"incidents {props.get('incidents_before')} before, {props.get('incidents_after')} after",
        h("br"),
        f"hotspot {props.get('area_before_km2', 0):.3f} km² before, "
        f"{props.get('area_after_km2', 0):.3f} km² after",
    ]
    return h("div", *lines)


def _legend(title: str, units: str, lo: float, hi: float) -> str:
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"]
    stops = ", ".join(
        "#{:02x}{:02x}{:02x}".format(*(int(c * 255) for c in cmap(i / 4)[:3])) for i in range(5)
    )
    keys = "".join(
        f'<div><span style="display:inline-block;width:12px;height:8px;border:2px solid {c}">'
        f"</span> {html.escape(words)}</div>"
        for c, words in CHANGES.values()
    )
    return (
        '<div id="csp-legend" style="position:absolute;bottom:28px;right:10px;z-index:1000;'
        "background:#fff;padding:6px 8px;border-radius:4px;font:12px sans-serif;"
        'box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:60%">'
        f"<div><b>{html.escape(title)}</b></div>"
        f'<div style="height:10px;background:linear-gradient(to right,{stops})"></div>'
        '<div style="display:flex;justify-content:space-between;gap:8px">'
        f"<span>{_nice(lo)} fewer</span><span>{html.escape(units)}</span>"
        f"<span>{_nice(hi)} more</span></div>{keys}</div>"
    )


def comparison_map_html(
    session: Session,
    *,
    comparison_id: int,
    output_dir: Path,
    max_cells: int,
    tile_url: str = "",
    tile_attribution: str | None = None,
) -> str:
    """A standalone folium map of a finished comparison: difference surface, areas, legend.

    A surface over ``max_cells`` is refused before it is read. Folium gets geometry, numbers
    and the change names only; tooltips travel as data (``shared.maps.Bindings``).
    """
    import folium

    from shared.maps import Bindings, RawHtml, make_map, render_map_html

    row = service.get_comparison(session, comparison_id=comparison_id)
    arr, grid, tags = read_surface_tif(
        service.tif_file(row, output_dir=output_dir), max_cells=max_cells
    )
    gj = service.areas_geojson(session, comparison_id=comparison_id)
    finite = arr[np.isfinite(arr)]
    top = float(np.abs(finite).max()) if finite.size else 1.0
    url, (w, s, e, n), (lo, hi) = surface_png_wgs84(arr, grid, diverging=True, faint=top * 0.02)
    m = make_map(bounds=(w, s, e, n), tiles=tile_url, tile_attribution=tile_attribution)
    folium.raster_layers.ImageOverlay(
        image=url,
        bounds=[[s, w], [n, e]],
        name="difference",
        opacity=0.8,
        interactive=False,
        alt="The difference surface: colours as in the legend",
    ).add_to(m)
    feats = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {"rank": f["properties"]["rank"], "change": f["properties"]["change"]},
        }
        for f in gj["features"]
    ]
    bindings = Bindings()
    if feats:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": feats},
            name="changed areas",
            style_function=lambda f: {
                "color": CHANGES.get(f["properties"]["change"], ("#000",))[0],
                "weight": 3,
                "fillOpacity": 0.0,
            },
        ).add_to(m)
        tips = {
            f["properties"]["rank"]: {"tooltip": area_tip(f["properties"])} for f in gj["features"]
        }
        bindings.bind_features(layer, key="rank", entries=tips)
    folium.LayerControl(collapsed=True).add_to(m)
    title = f"Comparison {comparison_id}: after minus before"
    units = tags.get("units", "")
    m.get_root().html.add_child(RawHtml(_legend(title, units, lo, hi)))  # type: ignore[attr-defined]
    return accessible_document(render_map_html(m, bindings), title=f"{title}: change map")
