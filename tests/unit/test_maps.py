"""Offline folium maps: no CDN links, vendored files exist, bounds and location respected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import pytest
from folium.plugins import HeatMap

from shared.maps import (
    OSM_TILES,
    NotVendored,
    external_assets,
    make_map,
    map_parts,
    render_map_html,
)

STATIC = Path(__file__).resolve().parents[2] / "shared" / "static"
LOCAL_REF = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["'](/static/[^"']+)""")


def _sample_map() -> folium.Map:
    m = make_map((0.52, 51.38), zoom_start=12)
    group = folium.FeatureGroup(name="things").add_to(m)
    folium.CircleMarker([51.38, 0.52], radius=6, popup=folium.Popup("<b>hi</b>")).add_to(group)
    folium.Marker([51.39, 0.53], icon=folium.Icon(color="red")).add_to(group)
    folium.GeoJson(
        {"type": "Polygon", "coordinates": [[[0.5, 51.3], [0.6, 51.3], [0.6, 51.4], [0.5, 51.3]]]}
    ).add_to(m)
    HeatMap([[51.38, 0.52, 1.0]]).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def test_rendered_html_loads_nothing_from_a_cdn() -> None:
    html = render_map_html(_sample_map())
    # An independent scan: any script/link with an absolute or protocol-relative URL.
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html, flags=re.IGNORECASE)
    assert tags, "the page should have script and link tags"
    for tag in tags:
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", tag), tag
    assert "cdn" not in html.lower()
    assert external_assets(html) == []


def test_every_local_asset_exists_on_disk() -> None:
    html = render_map_html(_sample_map())
    refs = LOCAL_REF.findall(html)
    assert any(r.endswith("leaflet.js") for r in refs)
    assert any(r.endswith("leaflet.css") for r in refs)
    assert any(r.endswith("jquery.min.js") for r in refs)  # folium popups use $()
    for ref in refs:
        assert (STATIC / ref.removeprefix("/static/")).is_file(), ref


@pytest.mark.parametrize(
    "css_path", ["leaflet/leaflet.css", "awesome-markers/leaflet.awesome-markers.css"]
)
def test_css_images_are_vendored(css_path: str) -> None:
    css_file = STATIC / "vendor" / css_path
    for url in set(re.findall(r"url\(([^)]+)\)", css_file.read_text())):
        url = url.strip("'\"")
        if url.startswith(("data:", "#")):
            continue
        assert (css_file.parent / url).is_file(), url


def test_osm_layer_kept_for_when_there_is_internet() -> None:
    html = render_map_html(make_map((0.52, 51.38)))
    assert OSM_TILES in html
    assert "background" in html
    no_tiles = render_map_html(make_map((0.52, 51.38), tiles=False))
    assert OSM_TILES not in no_tiles


def test_bounds_fit_and_location_order() -> None:
    m = make_map(bounds=(0.4, 51.3, 0.7, 51.45))
    html = render_map_html(m)
    assert "fitBounds" in html
    assert "[[51.3, 0.4], [51.45, 0.7]]" in html  # Leaflet wants [lat, lon]
    centred = render_map_html(make_map((0.52, 51.38)))
    assert "[51.38, 0.52]" in centred
    with pytest.raises(ValueError):
        make_map()
    with pytest.raises(ValueError):
        make_map(bounds=(0.7, 51.3, 0.4, 51.45))


def test_unvendored_plugin_fails_loudly() -> None:
    from folium.plugins import Fullscreen

    m = make_map((0.52, 51.38))
    Fullscreen().add_to(m)
    with pytest.raises(NotVendored):
        render_map_html(m)


def test_map_parts_split_for_templates() -> None:
    m = _sample_map()
    parts = map_parts(m)
    assert parts.map_var == m.get_name()
    assert f'id="{parts.map_var}"' in parts.body
    assert "leaflet.js" in parts.head
    assert f"var {parts.map_var} = L.map(" in parts.script
    assert external_assets(parts.head) == []


def test_review_map_registers_markers_and_keeps_text_out_of_folium() -> None:
    from services.assets.web.reviewmap import CameraView, RecView, build_review_map

    tricky = "a `b` ${c} <d> \\ e {{ 7*7 }} {% raw %}"
    cone = {
        "type": "Polygon",
        "coordinates": [[[0.52, 51.38], [0.521, 51.381], [0.522, 51.38], [0.52, 51.38]]],
    }
    cams = [
        CameraView(
            1, "T-1", tricky, None, "active", "offline", "digital", "fixed", 0.52, 51.38, cone
        ),
        CameraView(
            2, "T-2", "Two", "Ward", "proposed", "online", "analogue", "rapid", 0.53, 51.39, None
        ),
    ]
    recs = [RecView(2, "review", "no_evidence_of_use", "No use", {"incidents": 0})]
    built = build_review_map(cams, faults=[], recommendations=recs)
    script = built.parts.script
    assert "7*7" not in script  # folium never sees the text (its ids may hold any digits)
    assert script.count("csp-cam ") == 2 and script.count("csp-cone") == 1
    assert "csp-health-offline" in script and "csp-rec" in script
    assert external_assets(built.parts.head) == []
    data = _island(built.parts.data)
    popups = json.dumps(data["layers"])
    assert json.dumps(tricky)[1:-1] in popups  # verbatim, as data
    js = built.registry_js()
    for var in list(built.camera_markers.values()) + built.rec_markers:
        assert f"var {var} = " in script and var in js and var in data["layers"]
    public = build_review_map(cams[:1])
    assert "csp-rec" not in public.parts.script and public.rec_markers == []


def _island(block: str) -> dict:
    import re

    m = re.search(r'<script type="application/json" id="csp-map-data">(.*?)</script>', block, re.S)
    assert m, block[:200]
    assert "<" not in m.group(1)  # nothing in the data can close the script element
    return json.loads(m.group(1))


def test_template_text_in_a_folium_element_is_refused() -> None:
    import folium

    from shared.maps import TemplateTextInMap, assert_no_template_text

    for payload in ("{{ 7*7 }}", "{% raw %}", "{# x", "x }}"):
        m = _sample_map()
        folium.Marker([51.38, 0.52], tooltip=payload).add_to(m)
        with pytest.raises(TemplateTextInMap):
            map_parts(m)
        with pytest.raises(TemplateTextInMap):
            assert_no_template_text(m)


def test_branca_compiles_element_text_which_is_why_text_stays_out() -> None:
    """The mechanism behind the old remote code execution, shown so the guard is not removed."""
    import folium

    m = _sample_map()
    folium.Marker([51.38, 0.52], tooltip="X{{ 6*7 }}Y").add_to(m)
    m.get_root().render()
    assert "X42Y" in m.get_root().script.render()


def test_raw_html_is_never_compiled() -> None:
    from shared.maps import RawHtml

    m = _sample_map()
    m.get_root().html.add_child(RawHtml("<p>{{ 6*7 }}</p>"))
    html = render_map_html(m)
    assert "<p>{{ 6*7 }}</p>" in html and "42" not in html.split("<p>")[1][:10]


def test_json_for_script_round_trips_hostile_text() -> None:
    from shared.maps import json_for_script

    text = "</script><script>alert(1)</script> & \u2028 {{x}}"
    out = json_for_script({"t": text})
    assert "</" not in out and "<" not in out and "\u2028" not in out
    assert json.loads(out) == {"t": text}


def test_every_map_draws_the_partnership_outline_without_tiles() -> None:
    """Without tiles (no internet) a map was grey dots on grey: the outline is a vector layer."""
    m = make_map((0.53, 51.39), tiles=False)
    html = render_map_html(m)
    layers = [e for e in m._children.values() if isinstance(e, folium.GeoJson)]
    data = layers[0].data
    geometry = data["geometry"] if "geometry" in data else data["features"][0]["geometry"]
    assert len(layers) == 1 and geometry["type"] == "MultiPolygon"
    first = geometry["coordinates"][0][0][0]
    assert json.dumps(first[0]) in html and '"interactive": false' in html
    bare = make_map((0.53, 51.39), outline=False)
    assert not [e for e in bare._children.values() if isinstance(e, folium.GeoJson)]
