"""People's text on maps is data: generated text comes back verbatim and never reaches folium.

For every field a map shows (camera name, asset tag, ward; fault number and description;
recommendation reason; a list box's ward and id; a surface run's parameters), generated text
including Jinja, HTML and script payloads must (1) not break rendering, (2) come back verbatim
in the map's data block, and (3) leave folium's script unchanged: the script of a map with
hostile text equals the script of the same map with plain text, apart from folium's random ids.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.getpid() }}",
    "{{ 7*7 }}",
    "{% raw %}",
    "{%raw%}{% endraw %}",
    "{# comment",
    "}} %} #}",
    "<script>window.__pwned=1</script>",
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "${window.__pwned=1}",
    "`); window.__pwned=1; (`",
    "\\u2028\u2028\u2029 \\ ' \" &amp; &lt;",
]
hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(min_size=1, max_size=40),
    st.builds(
        lambda a, p, b: a + p + b,
        st.text(max_size=8),
        st.sampled_from(PAYLOADS),
        st.text(max_size=8),
    ),
).filter(lambda s: "\x00" not in s)
_IDS = re.compile(r"[0-9a-f]{32}")
_ISLAND = re.compile(r'<script type="application/json" id="csp-map-data">(.*?)</script>', re.S)


def _texts(node: Any) -> list[str]:
    """Every text of a JSON-ML tree (what the browser turns into text nodes)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for child in node[2:] for t in _texts(child)] if node else []
    if isinstance(node, dict):
        return [t for v in node.values() for t in _texts(v)]
    return []


def _island(data_html: str) -> dict[str, Any]:
    m = _ISLAND.search(data_html)
    assert m is not None
    assert "<" not in m.group(1)
    out: dict[str, Any] = json.loads(m.group(1))
    return out


def _review_map(name: str, tag: str, ward: str, desc: str, number: str, reason: str) -> Any:
    from services.assets.web.reviewmap import CameraView, FaultView, RecView, build_review_map

    cone = {
        "type": "Polygon",
        "coordinates": [[[0.52, 51.38], [0.521, 51.381], [0.522, 51.38], [0.52, 51.38]]],
    }
    cams = [
        CameraView(
            1,
            tag,
            name,
            ward,
            "active",
            "degraded",
            "digital",
            "fixed",
            0.52,
            51.38,
            cone,
            next_review_due="2027-01-01",
        ),
        CameraView(
            2, "T-2", "Two", None, "under_review", "online", "analogue", "fixed", 0.53, 51.39, None
        ),
    ]
    faults = [
        FaultView(
            1, number, "no_picture", "open", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), desc, None
        )
    ]
    recs = [RecView(1, "review", "no_evidence_of_use", reason, {"incidents": 0}, 2)]
    return build_review_map(cams, faults=faults, recommendations=recs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile, hostile, hostile, hostile, hostile, hostile)
def test_review_map_text_is_verbatim_data(
    name: str, tag: str, ward: str, desc: str, number: str, reason: str
) -> None:
    built = _review_map(name, tag, ward, desc, number, reason)
    plain = _review_map("n", "t", "w", "d", "F-1", "r")
    assert _IDS.sub("", built.parts.script) == _IDS.sub("", plain.parts.script)
    texts = "\u0000".join(_texts(_island(built.parts.data)["layers"]))
    for value in (name, tag, ward, desc[:200], number, reason):
        assert value in texts


def _boxes(ward: str, cell_id: str) -> dict[str, Any]:
    ring = [[0.52, 51.38], [0.522, 51.38], [0.522, 51.381], [0.52, 51.381], [0.52, 51.38]]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "rank": 1,
                    "ward": ward,
                    "cell_id": cell_id,
                    "centre": [0.521, 51.3805],
                },
            },
        ],
    }


@settings(max_examples=100, deadline=None)
@given(hostile, hostile)
def test_list_map_text_is_verbatim_data(ward: str, cell_id: str) -> None:
    from services.predictive.web.pages import build_map

    parts = build_map(_boxes(ward, cell_id))
    plain = build_map(_boxes("w", "c"))
    assert _IDS.sub("", parts.script) == _IDS.sub("", plain.script)
    feats = _island(parts.data)["features"]
    texts = "\u0000".join(t for f in feats for t in _texts(f["entries"]))
    assert f"Ward: {ward}" in texts and f"Box: {cell_id}" in texts


@settings(max_examples=40, deadline=None)
@given(hostile, hostile)
def test_surface_map_ignores_parameter_text(category: str, title: str) -> None:
    import html

    import numpy as np

    from services.hotspots.web.maps import surface_map
    from shared.grid import Grid
    from shared.maps import render_map_html

    grid = Grid.covering(575_000, 168_000, 576_000, 169_000, 100.0)
    arr = np.arange(grid.nx * grid.ny, dtype=float).reshape(grid.shape)
    ring = [[0.52, 51.38], [0.522, 51.38], [0.522, 51.381], [0.52, 51.38]]
    gj = {
        "type": "FeatureCollection",
        "parameters": {"categories": [category]},
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"rank": 1, "peak": 2.5, "area_m2": 100.0, "note": category},
            }
        ],
    }
    out = render_map_html(surface_map(arr, grid, gj, title=title, units="per km2"))
    assert html.escape(title, quote=True) in out
    assert "window.__pwned" not in out.replace(html.escape(title, quote=True), "")
