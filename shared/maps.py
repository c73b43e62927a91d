"""Folium maps that work offline: Leaflet and friends served from ``/static/vendor``.

Folium links Leaflet, jQuery, Bootstrap and Font Awesome from public CDNs. The control room may
have no internet, so every map made here points those links at the copies vendored in
``shared/static/vendor`` (served by every service under ``/static``). Bootstrap, the glyphicon and
Font Awesome fonts are dropped: nothing we draw needs them (``folium.Icon`` still draws its
coloured pin, just without a glyph). An element whose script is not vendored makes rendering
fail loudly rather than silently reaching for a CDN.

Tiles are a setting (``tiles``: True for OpenStreetMap, an XYZ URL template, or off); under
them a plain background, and over them the suite's own context as vectors that print: the
partnership's outline (embedded) and the ward lines with their names and, close in, LSOA
outlines (fetched from ``/boundaries`` by ``/static/csp/context.js``), so a map without tiles
is still readable.

User text never goes through folium. branca renders each element's macro and then compiles the
output *again* as a Jinja template (``Element(script(self, kwargs))``), so a camera named
``{{ cycler.__init__.__globals__.os.getpid() }}`` inside a popup ran on the server. Folium here
draws geometry, numbers and our own class names only; what a popup or tooltip *says* travels as
data (:class:`Bindings`: JSON trees built with :func:`h`) in a ``<script type="application/json">``
block, and ``/static/csp/maps.js`` turns it into DOM text nodes in the browser. Before rendering,
:func:`assert_no_template_text` refuses a map whose elements carry Jinja delimiters at all.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from shared.boundaries.maplayer import (
    BOUNDARIES_URL,
    CONTEXT_STYLE,
    OUTLINE_PANE,
    OUTLINE_Z,
    BoundaryContext,
)

VENDOR_URL = "/static/vendor"
MAPS_JS = "/static/csp/maps.js"
DATA_ELEMENT_ID = "csp-map-data"
# What Jinja would read as template syntax; none of it may reach a folium element.
_JINJA_DELIMITERS = ("{{", "{%", "{#", "}}", "%}", "#}")

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
MAX_ZOOM = 19

_EXTERNAL_ASSET = re.compile(
    r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE
)


class NotVendored(LookupError):
    """A map element needs a script or stylesheet that is not in ``shared/static/vendor``."""


class TemplateTextInMap(ValueError):
    """A folium element carries Jinja delimiters: text that would be compiled as a template."""


Node = Any  # a str, or [tag, {attrs}?, *children] (see ``h``)


def h(tag: str, *children: Node, **attrs: str) -> list[Any]:
    """A DOM node as data: ``h("b", name, class_="x")`` -> ``["b", {"class": "x"}, name]``.

    The browser builds it with ``createTextNode`` for strings (``/static/csp/maps.js``), so any
    text is shown verbatim and nothing in it is ever parsed as markup or template.
    """
    clean = {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()}
    return [tag, clean, *[c if isinstance(c, list) else _text(c) for c in children]]


def _text(value: Node) -> str:
    return "" if value is None else str(value)


@dataclass
class Bindings:
    """Popups and tooltips for a map's layers, as data bound in the browser."""

    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: list[dict[str, Any]] = field(default_factory=list)

    def bind(
        self, layer: Any, *, popup: Node = None, tooltip: Node = None, max_width: int = 320
    ) -> None:
        """Give ``layer`` (a folium element) a popup and/or tooltip."""
        entry: dict[str, Any] = {"maxWidth": max_width}
        if popup is not None:
            entry["popup"] = popup
        if tooltip is not None:
            entry["tooltip"] = tooltip
        self.layers[layer.get_name()] = entry

    def bind_features(
        self, layer: Any, *, key: str, entries: Mapping[Any, Mapping[str, Node]]
    ) -> None:
        """Per-feature popups/tooltips of a GeoJson ``layer``, matched on property ``key``."""
        self.features.append(
            {
                "layer": layer.get_name(),
                "key": key,
                "entries": {str(k): dict(v) for k, v in entries.items()},
            }
        )

    def html(self) -> str:
        """The data block, the binder script and the call that binds them (after the map)."""
        payload = json_for_script({"layers": self.layers, "features": self.features})
        return (
            f'<script type="application/json" id="{DATA_ELEMENT_ID}">{payload}</script>\n'
            f'<script src="{MAPS_JS}"></script>\n'
            "<script>(function () { var d = CSP_MAPS.data('" + DATA_ELEMENT_ID + "');"
            " CSP_MAPS.bind(d.layers); d.features.forEach(function (f) {"
            " CSP_MAPS.bindFeatures(f.layer, f.key, f.entries); }); })();</script>"
        )


def json_for_script(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and U+2028/9 escaped."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


class RawHtml(Element):
    """Markup added to a figure as it is: rendered verbatim, never compiled as a template.

    The caller builds ``markup`` itself with every outside value passed through ``html.escape``.
    """

    def __init__(self, markup: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.markup = markup

    def render(self, **kwargs: Any) -> str:
        """The markup, unchanged."""
        return self.markup


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for embedding in a page: head links/styles, the div, the script.

    ``data`` is the popup/tooltip data block and its binder; put it after ``script``.
    """

    head: str
    body: str
    script: str
    map_var: str
    data: str = ""


def make_map(
    location_lonlat: tuple[float, float] | None = None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    zoom_start: int = 13,
    tiles: bool | str = True,
    tile_attribution: str | None = None,
    outline: bool = True,
    context: bool = True,
    boundaries_url: str = BOUNDARIES_URL,
    background: str = PLAIN_BACKGROUND,
    **kw: Any,
) -> folium.Map:
    """A folium map centred on (lon, lat) or fitted to bounds (minlon, minlat, maxlon, maxlat).

    Scripts and styles point at ``/static/vendor``. ``tiles``: True = OpenStreetMap, a string =
    that XYZ URL template (pass ``settings.tile_url``), "" or False = none, over a plain
    ``background``. The partnership's outline (``outline``) and the ward lines, names and LSOAs
    from ``boundaries_url`` (``context``) are drawn as vectors under the data layers, never
    clickable, so a map without tiles (no internet) is still readable.
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
    kw.setdefault("max_zoom", MAX_ZOOM)
    m = folium.Map(location=list(centre), zoom_start=zoom_start, tiles=None, **kw)
    _use_local_assets(m)
    layer = tile_layer(tiles, tile_attribution)
    if layer is not None:
        url, attribution = layer
        folium.TileLayer(
            url, attr=attribution, name="Map tiles", max_zoom=MAX_ZOOM, overlay=False
        ).add_to(m)
    if not re.fullmatch(r"#[0-9a-fA-F]{3,8}", background):
        raise ValueError(f"background must be a #rgb colour, got {background!r}")
    style = f"<style>.folium-map, .leaflet-container {{ background: {background}; }}</style>"
    root = m.get_root()
    if isinstance(root, Figure):
        root.header.add_child(RawHtml(style), name="csp_plain_background")
        if context:
            root.header.add_child(RawHtml(CONTEXT_STYLE), name="csp_context_style")
    if outline:
        _add_outline(m)
    if context:
        m.add_child(BoundaryContext(base_url=boundaries_url))
    if bounds is not None:
        minx, miny, maxx, maxy = bounds
        m.add_child(_FitBounds([[miny, minx], [maxy, maxx]]))
    return m


def tile_layer(tiles: bool | str, attribution: str | None = None) -> tuple[str, str] | None:
    """The (URL template, attribution) of ``tiles`` (True = OSM, a URL, "" or False = none)."""
    if tiles is True:
        url = OSM_TILES
    elif not tiles:
        return None
    else:
        url = str(tiles).strip()
        if not url:
            return None
    if not all(k in url for k in ("{z}", "{x}", "{y}")):
        raise ValueError(f"tiles must be an XYZ URL template with {{z}}/{{x}}/{{y}}, got {url!r}")
    if not (re.match(r"https?://[^/\s]+/", url) or re.match(r"/(?!/)", url)):
        raise ValueError(f"tiles must be an http(s) URL or a path on this site, got {url!r}")
    if attribution:
        return url, attribution
    if url == OSM_TILES:
        return url, OSM_ATTRIBUTION
    return url, html.escape(re.sub(r"^https?://", "", url).split("/", 1)[0]) or "Map tiles"


@lru_cache(maxsize=1)
def _outline_geometry() -> dict[str, Any]:
    """The bundled partnership outline (WGS84 GeoJSON geometry), geometry only."""
    from shared.extent import OUTLINE_PATH

    data = json.loads(OUTLINE_PATH.read_text(encoding="utf-8"))
    geometry: dict[str, Any] = data["features"][0]["geometry"]
    return geometry


def _add_outline(m: folium.Map) -> None:
    """The partnership's outline as a vector layer: drawn even when no tile can load."""
    # Its own pane, under the ward lines (its light fill would wash them out) and the data.
    folium.map.CustomPane(OUTLINE_PANE, z_index=OUTLINE_Z, pointer_events=False).add_to(m)
    folium.GeoJson(
        {"type": "Feature", "properties": {}, "geometry": _outline_geometry()},
        name="Medway boundary",
        style_function=lambda _f: {
            "color": "#114b7a",
            "weight": 2,
            "fill": True,
            "fillColor": "#ffffff",
            "fillOpacity": 0.35,
        },
        control=True,
        interactive=False,  # never in the way of a click on a camera or a box
        pane=OUTLINE_PANE,
    ).add_to(m)


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
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
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


_SKIP_ATTRS = frozenset({"_template", "_children", "_parent", "_id", "_name", "_env"})


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 50:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k, depth + 1)
            yield from _strings(v, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v, depth + 1)


def assert_no_template_text(m: Any) -> None:
    """Raise ``TemplateTextInMap`` if any element of ``m`` holds Jinja delimiters.

    Every string a folium element holds (its data, options, HTML, template source) would be
    compiled as a template when the map renders. The suite's own code puts none there; text
    from people goes through :class:`Bindings`. This is the check that it stays so.
    """
    for element in _walk(m.get_root()):
        if isinstance(element, RawHtml):
            continue  # rendered verbatim, never compiled
        for attr, value in vars(element).items():
            if attr in _SKIP_ATTRS:
                continue
            for text in _strings(value):
                if any(d in text for d in _JINJA_DELIMITERS):
                    raise TemplateTextInMap(
                        f"{type(element).__name__}.{attr} holds template syntax; pass text "
                        "through shared.maps.Bindings, never into folium"
                    )


def render_map_html(m: folium.Map, bindings: Bindings | None = None) -> str:
    """The map as a standalone HTML document that loads nothing from a CDN."""
    assert_no_template_text(m)
    localise(m)
    html = m.get_root().render()
    if bindings is not None:
        block = bindings.html()
        html = html.replace("</html>", block + "\n</html>") if "</html>" in html else html + block
    _check_offline(html)
    return html


_FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.S)


def map_parts(m: folium.Map, bindings: Bindings | None = None) -> MapParts:
    """Render ``m`` and split it into head, body and script for a page template."""
    assert_no_template_text(m)
    localise(m)
    root = m.get_root()
    if not isinstance(root, Figure):
        raise TypeError("map_parts needs a map inside a folium Figure")
    root.render()  # populates header and script with every element's links and code
    parts = MapParts(
        # folium's own viewport forbids pinch zoom (maximum-scale=1.0, user-scalable=no); the
        # page's base template sets one that allows it, so folium's is dropped.
        head=_FOLIUM_VIEWPORT.sub("", root.header.render()),
        body=root.html.render(),
        script=root.script.render(),
        map_var=m.get_name(),
        data=bindings.html() if bindings is not None else "",
    )
    _check_offline(parts.head + parts.body + parts.script)
    return parts
