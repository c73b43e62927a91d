"""The boundary context of a folium map: ward lines and names, LSOAs when close (drawn in JS).

The map's HTML carries no area data: ``/static/csp/context.js`` fetches
``/boundaries/{layer}.geojson`` from the page's own origin and draws them, so every map of
every service shows the boundaries the suite holds, as loaded now, and the browser caches them.
"""

from __future__ import annotations

import re
from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

CONTEXT_JS = "/static/csp/context.js"
BOUNDARIES_URL = "/boundaries"
# Leaflet panes: tiles 200 < outline 350 < LSOA 360 < wards 370 < names 380 < data 400 (overlay)
OUTLINE_PANE = "csp-outline"
OUTLINE_Z = 350
LSOA_MIN_ZOOM = 14
LABEL_MIN_ZOOM = 10

# Put in the page head by shared.maps.make_map (with the map's other styles).
CONTEXT_STYLE = """<style>
.csp-area-label { pointer-events: none; }
.csp-area-name { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font: 600 11px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #33275a; letter-spacing: .02em; pointer-events: none;
  text-shadow: 0 0 2px #fff, 0 0 3px #fff, 1px 1px 0 #fff, -1px -1px 0 #fff,
    1px -1px 0 #fff, -1px 1px 0 #fff; }
.csp-zoom-close .csp-area-name { font-size: 13px; }
.csp-area-name-hidden { visibility: hidden; }
@media print { .csp-area-name, .csp-ward, .csp-lsoa {
  print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
</style>"""


class BoundaryContext(JSCSSMixin, MacroElement):
    """Draws the suite's wards (with names) and, from ``lsoa_min_zoom``, LSOA outlines."""

    default_js = [("csp_context", CONTEXT_JS)]
    _template = Template(
        """{% macro script(this, kwargs) %}
        CSP_CONTEXT.draw({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}"""
    )

    def __init__(
        self,
        *,
        base_url: str = BOUNDARIES_URL,
        lsoa_min_zoom: int = LSOA_MIN_ZOOM,
        label_min_zoom: int = LABEL_MIN_ZOOM,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", base_url):
            raise ValueError(f"boundaries URL must be a path on this site, got {base_url!r}")
        self._name = "BoundaryContext"
        self.options: dict[str, Any] = {
            "base": base_url,
            "lsoaMinZoom": int(lsoa_min_zoom),
            "labelMinZoom": int(label_min_zoom),
        }
