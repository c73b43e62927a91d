"""Folium maps that work offline: Leaflet and friends served from ``/static/vendor``.

Folium links Leaflet, jQuery, Bootstrap and Font Awesome from public CDNs. The control room may
have no internet, so every map made here points those links at the copies vendored in
``shared/static/vendor`` (served by every service under ``/static``). Bootstrap, the glyphicon and
Font Awesome fonts are dropped: nothing we draw needs them (``folium.Icon`` still draws its
coloured pin, just without a glyph). An element whose script is not vendored makes rendering
fail loudly rather than silently reaching for a CDN.

The OpenStreetMap tile layer is kept for places with internet; without it the map shows a plain
background and every feature is still drawn, since features are vectors, not tiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

VENDOR_URL = "/static/vendor"

LOCAL_JS: dict[str, str] = {
    "leaflet": f"{VENDOR_URL}/leaflet/leaflet.js",
    "jquery": f"{VENDOR_URL}/jquery/jquery.min.js",
    "awesome_markers": f"{VENDOR_URL}/awesome-markers/leaflet.awesome-markers.min.js",
    "leaflet-heat.js": f"{VENDOR_URL}/leaflet-heat/leaflet_heat.min.js",
}
LOCAL_CSS: dict[str, str] = {
    "leaflet_css": f"{VENDOR_URL}/leaflet/leaflet.css",
    "awesome_markers_css": f"{VENDOR_URL}/awesome-markers/leaflet.awesome-markers.css",
}
# Links folium adds that nothing we draw uses (Bootstrap styles, icon fonts): left out.
DROPPED = frozenset(
    {
        "bootstrap",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_rotate_css",
    }
)

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
PLAIN_BACKGROUND = "#e9eef0"

_EXTERNAL_ASSET = re.compile(
    r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE
)


class NotVendored(LookupError):
    """A map element needs a script or stylesheet that is not in ``shared/static/vendor``."""


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for embedding in a page: head links/styles, the div, the script."""

    head: str
    body: str
    script: str
    map_var: str


def make_map(
    location_lonlat: tuple[float, float] | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    zoom_start: int = 13,
    tiles: bool = True,
    background: str = PLAIN_BACKGROUND,
    **kw: Any,
) -> folium.Map:
    """A folium map centred on (lon, lat) or fitted to bounds (minlon, minlat, maxlon, maxlat).

    Scripts and styles point at ``/static/vendor``; an OSM layer is added when ``tiles`` is true,
    over a plain ``background`` that is what people see when the tiles cannot load.
    """
    if location_lonlat is None and bounds is None:
        raise ValueError("make_map needs a location (lon, lat) or bounds")
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        if minx > maxx or miny > maxy:
            raise ValueError(f"bounds must be (minlon, minlat, maxlon, maxlat), got {bounds}")
        centre = ((miny + maxy) / 2.0, (minx + maxx) / 2.0)
    else:
        assert location_lonlat is not None
        centre = (location_lonlat[1], location_lonlat[0])
    kw.setdefault("control_scale", True)
    m = folium.Map(location=list(centre), zoom_start=zoom_start, tiles=None, **kw)
    _use_local_assets(m)
    if tiles:
        folium.TileLayer(
            OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19, overlay=False
        ).add_to(m)
    style = f"<style>.folium-map, .leaflet-container {{ background: {background}; }}</style>"
    root = m.get_root()
    if isinstance(root, Figure):
        root.header.add_child(Element(style), name="csp_plain_background")
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        m.add_child(_FitBounds([[miny, minx], [maxy, maxx]]))
    return m


class _FitBounds(MacroElement):
    """Fit the map to bounds without animation."""

    # folium's own fit animates, which leaves pages (and screenshots) mid-zoom for a moment
    # with vector layers drawn scaled up.

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {animate: false});
        {% endmacro %}"""
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "FitBounds"
        self.bounds = bounds


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def _localise(links: list[tuple[str, str]], local: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for name, url in links:
        if name in DROPPED:
            continue
        if name in local:
            out.append((name, local[name]))
        elif url.startswith("/") and not url.startswith("//"):
            out.append((name, url))
        else:
            raise NotVendored(
                f"map element needs {name!r} from {url}; vendor it in shared/static/vendor "
                "and add it to shared.maps.LOCAL_JS / LOCAL_CSS"
            )
    return out


def _use_local_assets(element: Any) -> None:
    element.default_js = _localise(list(element.default_js), LOCAL_JS)
    element.default_css = _localise(list(element.default_css), LOCAL_CSS)


def localise(m: folium.Map) -> None:
    """Point every element's scripts and styles at the vendored copies; raise ``NotVendored``."""
    for element in _walk(m.get_root()):
        if isinstance(element, JSCSSMixin):
            _use_local_assets(element)


def external_assets(html: str) -> list[str]:
    """URLs of scripts and stylesheets in ``html`` that would be fetched from another host."""
    return _EXTERNAL_ASSET.findall(html)


def _check_offline(html: str) -> None:
    found = external_assets(html)
    if found:
        raise NotVendored(f"map HTML still links external assets: {', '.join(found)}")


def render_map_html(m: folium.Map) -> str:
    """The map as a standalone HTML document that loads nothing from a CDN."""
    localise(m)
    html = m.get_root().render()
    _check_offline(html)
    return html


def map_parts(m: folium.Map) -> MapParts:
    """Render ``m`` and split it into head, body and script for a page template."""
    localise(m)
    root = m.get_root()
    if not isinstance(root, Figure):
        raise TypeError("map_parts needs a map inside a folium Figure")
    root.render()  # populates header and script with every element's links and code
    parts = MapParts(
        head=root.header.render(),
        body=root.html.render(),
        script=root.script.render(),
        map_var=m.get_name(),
    )
    _check_offline(parts.head + parts.body + parts.script)
    return parts
