"""The list page's maps: the boxes coloured by rank, on screen and for print, and "Go" links.

Folium gets the box outlines and ranks (numbers) only; what a tooltip says (rank, ward, grid
reference, box id) is bound in the browser as text (``shared.maps.Bindings``), never compiled
by folium. The rank labels are drawn in the browser by ``static/ranks.js`` from ``rank_data``
(numbers only): on the box when it is larger than the label, else beside it with a leader line,
so no two labels overlap.

The page carries two maps of the same boxes. The one on screen fills its pane, whatever the
phone or laptop. The print one has a fixed size that fits an A4 page above the table and is
fitted to the boxes (with room for the labels) when the page loads: a map fitted on screen and
then printed at another size would crop the boxes at its edges (Leaflet keeps its view at the
top-left corner when its box changes size). It zooms in quarter steps, so the boxes fill it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from shared.maps import MapParts

# Text colour on each rank colour, chosen for at least 4.5:1 contrast (checked by the tests).
RANK_COLOURS = ((3, "#b2182b"), (10, "#ef8a62"), (10_000, "#fddbc7"))
# The print map in CSS pixels: 700 px is 185 mm, inside an A4 page's 186 mm between margins;
# 430 px (114 mm) leaves room under it for a table of 20 boxes on the same page.
PRINT_SIZE_PX = (700, 430)
PRINT_ZOOM_SNAP = 0.25
MEDWAY_LONLAT = (0.55, 51.39)


def rank_colour(rank: int) -> str:
    """The fill colour of a box of ``rank`` (darkest for the first three)."""
    return next(c for limit, c in RANK_COLOURS if rank <= limit)


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def rank_ink(rank: int) -> str:
    """Black or white text on the rank's colour, whichever contrasts more."""
    fill = rank_colour(rank)
    return "#000000" if contrast(fill, "#000000") >= contrast(fill, "#ffffff") else "#ffffff"


def _tooltip(props: dict[str, Any]) -> Any:
    from shared.maps import h

    rank = int(props["rank"])
    return h(
        "span",
        h("b", f"Rank {rank}"),
        h("br"),
        f"Ward: {props.get('ward') or 'none'}",
        h("br"),
        f"Grid ref: {props.get('grid_ref') or 'none'}",
        h("br"),
        f"Box: {props['cell_id']}",
    )


def build_map(
    geojson: dict[str, Any],
    *,
    for_print: bool = False,
    tiles: bool | str = True,
    tile_attribution: str | None = None,
) -> MapParts:
    """A folium map of the boxes, coloured by rank (their labels: ``rank_data`` and ranks.js).

    ``for_print``: the fixed-size map without controls or tooltips that the page prints.
    ``tiles``, ``tile_attribution``: as ``shared.maps.make_map`` takes them (the settings'
    ``tile_url``; "" for none).
    """
    import folium

    from shared.maps import Bindings, make_map, map_parts

    options: dict[str, Any] = {"tiles": tiles, "tile_attribution": tile_attribution}
    if for_print:
        width, height = PRINT_SIZE_PX
        options |= {
            "width": width,
            "height": height,
            "zoom_control": False,
            "zoom_snap": PRINT_ZOOM_SNAP,
        }
    feats = geojson["features"]
    if not feats:
        # An empty list (no incidents before the date): the page shows the district map alone.
        return map_parts(make_map(MEDWAY_LONLAT, zoom_start=11, **options))
    lons = [p[0] for f in feats for p in f["geometry"]["coordinates"][0]]
    lats = [p[1] for f in feats for p in f["geometry"]["coordinates"][0]]
    pad = 0.003
    m = make_map(
        bounds=(min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad), **options
    )
    shapes = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {"rank": int(f["properties"]["rank"])},
        }
        for f in feats
    ]
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": shapes},
        name="boxes",
        style_function=lambda f: {
            "color": "#222",
            "weight": 1.5,
            "fillOpacity": 0.6,
            "fillColor": rank_colour(int(f["properties"]["rank"])),
        },
        interactive=not for_print,
    ).add_to(m)
    if for_print:
        return map_parts(m)
    bindings = Bindings()
    bindings.bind_features(
        layer,
        key="rank",
        entries={
            int(f["properties"]["rank"]): {"tooltip": _tooltip(f["properties"])} for f in feats
        },
    )
    return map_parts(m, bindings)


_LINKED = re.compile(r"<script\b[^>]*\bsrc=\"[^\"]+\"[^>]*>\s*</script>|<link\b[^>]*>", re.I)


def second_head(first: str, second: str) -> str:
    """``second``'s head without the scripts and stylesheets ``first`` already links.

    Both maps need the same Leaflet; loaded twice it would be fetched and run twice.
    """
    seen = set(_LINKED.findall(first))
    return _LINKED.sub(lambda m: "" if m.group(0) in seen else m.group(0), second)


def rank_data(geojson: dict[str, Any]) -> list[dict[str, Any]]:
    """What ranks.js labels: each box's rank, centre and bounds ([[south, west], [north, east]])."""
    out = []
    for f in geojson["features"]:
        ring = f["geometry"]["coordinates"][0]
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        lon, lat = f["properties"]["centre"]
        out.append(
            {
                "rank": int(f["properties"]["rank"]),
                "lat": float(lat),
                "lon": float(lon),
                "bounds": [[min(lats), min(lons)], [max(lats), max(lons)]],
            }
        )
    return out


def geo_href(lat: float, lon: float, label: str) -> str:
    """A ``geo:`` link (RFC 5870) that opens the phone's own maps app with a pin at the box.

    ``geo:51.38,0.52?q=51.38,0.52(Box%203%2C%20River)``: Android's maps apps drop the pin
    named by the label; the label is percent-encoded, so no text of it is read as syntax.
    """
    at = f"{lat:.6f},{lon:.6f}"
    return f"geo:{at}?q={at}({quote(label, safe='')})"
