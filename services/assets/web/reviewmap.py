"""The SEG review map: cameras by lifecycle and health, view cones, faults, recommendations.

Built with folium through ``shared.maps`` (no CDN). Markers carry CSS classes
(``csp-cam csp-life-<lifecycle> csp-health-<health>``, ``csp-cone``, ``csp-rec``) so pages and
tests can find them. Folium draws only geometry and those classes (lifecycle and health are
fixed vocabularies); what popups and tooltips say (names, asset tags, wards, fault descriptions,
reasons) is built here as data with ``shared.maps.h`` and bound in the browser as text nodes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import folium

from services.assets import lifecycle as lc
from shared.maps import Bindings, MapParts, Node, h, make_map, map_parts

LIFECYCLE_COLOURS: dict[str, str] = {
    "proposed": "#9ecae1",
    "approved": "#3182bd",
    "rejected": "#bdbdbd",
    "active": "#2ca25f",
    "under_review": "#fdae6b",
    "in_store": "#9e9ac8",
    "decommissioning": "#e6550d",
    "decommissioned": "#636363",
}
LIFECYCLE_LABELS = {k: k.replace("_", " ").capitalize() for k in LIFECYCLE_COLOURS}
# Health is the marker's border: a thin white ring when online, thick amber or dashed red if not.
HEALTH_STROKE: dict[str, dict[str, Any]] = {
    "online": {"color": "#ffffff", "weight": 1.5},
    "degraded": {"color": "#ff8f00", "weight": 4},
    "offline": {"color": "#d50000", "weight": 4, "dash_array": "4 3"},
}
REC_COLOUR = "#6a1b9a"
MEDWAY_LONLAT = (0.53, 51.39)


_CLASS_WORD = re.compile(r"[a-z0-9_-]+")


def css_word(value: str) -> str:
    """A vocabulary value (lifecycle, health, action) as a CSS class word; anything else refused."""
    if not _CLASS_WORD.fullmatch(value):
        raise ValueError(f"not a class word: {value!r}")
    return value


@dataclass(frozen=True)
class CameraView:
    """What the map needs of one camera (WGS84)."""

    id: int
    asset_tag: str
    name: str
    ward: str | None
    lifecycle: str
    health: str
    technology: str
    deployment: str
    lon: float
    lat: float
    cone: dict[str, Any] | None  # GeoJSON Polygon in WGS84
    next_review_due: str | None = None
    grid_ref: str | None = None  # Ordnance Survey grid reference ("TQ 7581 6823")

    @property
    def place(self) -> str:
        """Where it is, for lists: its ward and its grid reference."""
        return place_text(self.ward, self.grid_ref)


def place_text(ward: str | None, grid: str | None) -> str:
    """``"Chatham Central · TQ 7581 6823"``; says so when the ward is not recorded."""
    return f"{ward or 'Ward not recorded'} \u00b7 {grid or 'no grid reference'}"


@dataclass(frozen=True)
class FaultView:
    """An open fault shown in its camera's popup."""

    camera_id: int
    number: str
    category: str
    status: str
    reported_at: datetime
    description: str
    sla_due: datetime | None = None


@dataclass(frozen=True)
class RecView:
    """A recommendation with its evidence."""

    camera_id: int
    action: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    related_camera_id: int | None = None


@dataclass
class ReviewMap:
    """The rendered map and what the page's side list needs to link to it."""

    parts: MapParts
    camera_markers: dict[int, str]
    rec_markers: list[str]
    counts: dict[str, int] = field(default_factory=dict)

    def registry_js(self) -> str:
        """JS object literals mapping camera ids and recommendation indexes to marker vars."""
        cams = ", ".join(f'"{cid}": {var}' for cid, var in self.camera_markers.items())
        recs = ", ".join(self.rec_markers)
        return (
            f"window.CSP_MAP = {self.parts.map_var};\n"
            f"window.CSP_CAMERAS = {{{cams}}};\nwindow.CSP_RECS = [{recs}];"
        )


def _bounds(cams: Sequence[CameraView]) -> tuple[float, float, float, float] | None:
    if not cams:
        return None
    lons = [c.lon for c in cams]
    lats = [c.lat for c in cams]
    pad = 0.002
    return (min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)


def _fault_node(faults: Sequence[FaultView]) -> Node:
    items = []
    for f in faults:
        when = f.reported_at.strftime("%d %b %Y %H:%M")
        if f.sla_due:
            when += f", due {f.sla_due.strftime('%d %b %H:%M')}"
        items.append(
            h(
                "li",
                h("b", f.number),
                " ",
                f.category.replace("_", " "),
                " ",
                h("span", f.status.replace("_", " "), class_="badge"),
                h("br"),
                h("small", when),
                h("br"),
                f.description[:200],
            )
        )
    return h("div", h("b", f"Open faults ({len(faults)})"), h("ul", *items), class_="csp-faults")


def camera_popup(c: CameraView, faults: Sequence[FaultView] | None, signed_in: bool) -> Node:
    """What a camera's popup says, as data: name, tag, lifecycle, health, kind, ward, faults."""
    kind = f"{c.technology}, {c.deployment}"
    parts: list[Node] = [
        h("b", c.name),
        " ",
        h("small", c.asset_tag),
        h(
            "div",
            LIFECYCLE_LABELS.get(c.lifecycle, c.lifecycle),
            " \u00b7 ",
            h("span", c.health, class_=f"badge health-{css_word(c.health)}"),
        ),
        h("div", h("small", c.place), class_="csp-place"),
        h("div", h("small", kind)),
    ]
    if c.next_review_due:
        parts.append(h("div", h("small", f"Review due {c.next_review_due}")))
    if faults:
        parts.append(_fault_node(faults))
    elif signed_in:
        parts.append(h("div", h("small", "No open faults")))
    return h("div", *parts, class_="csp-popup")


def _evidence_node(ev: dict[str, Any]) -> Node:
    keys = (
        ("incidents", "Incidents in view"),
        ("footage_requests", "Footage requests"),
        ("faults", "Faults"),
        ("downtime_share", "Downtime share"),
        ("age_years", "Age (years)"),
        ("expected_life_years", "Expected life"),
        ("overlap_share", "View overlap"),
    )
    rows = []
    for key, label in keys:
        if key not in ev or ev[key] is None:
            continue
        value = ev[key]
        if key in ("downtime_share", "overlap_share"):
            shown = f"{float(value):.0%}"
        elif isinstance(value, float):
            shown = f"{value:.1f}"
        else:
            shown = str(value)
        rows.append(h("tr", h("th", label), h("td", shown)))
    return h("table", *rows, class_="csp-evidence")


def rec_popup(r: RecView, cams: dict[int, CameraView]) -> Node:
    """What a recommendation's popup says, as data: action, rule, reason and evidence."""
    cam = cams.get(r.camera_id)
    name = cam.name if cam else f"camera {r.camera_id}"
    related = cams.get(r.related_camera_id) if r.related_camera_id else None
    parts: list[Node] = [
        h("b", r.action.replace("_", " ").capitalize()),
        ": ",
        name,
        h("br"),
    ]
    if cam:
        parts += [h("small", cam.place, class_="csp-place"), h("br")]
    parts += [
        h("small", f"Rule: {r.rule.replace('_', ' ')}"),
        h("p", r.reason),
    ]
    if related:
        parts.append(h("p", h("small", f"Related: {related.name}")))
    parts.append(_evidence_node(r.evidence))
    return h("div", *parts, class_="csp-popup")


def build_review_map(
    cameras: Sequence[CameraView],
    *,
    faults: Sequence[FaultView] | None = None,
    recommendations: Sequence[RecView] | None = None,
    tiles: str = "",
    tile_attribution: str | None = None,
) -> ReviewMap:
    """The folium map: a layer per lifecycle, view cones, and (when given) recommendations.

    ``faults`` and ``recommendations`` are None for people who may not read them; then neither
    the popups nor the layers mention them. ``tiles`` is the tile URL template ("" draws none),
    ``tile_attribution`` its credit line.
    """
    bounds = _bounds(cameras)
    m = make_map(
        MEDWAY_LONLAT,
        bounds=bounds,
        zoom_start=12,
        tiles=tiles,
        tile_attribution=tile_attribution or None,
    )
    by_camera: dict[int, list[FaultView]] = defaultdict(list)
    for f in faults or ():
        by_camera[f.camera_id].append(f)
    cones = folium.FeatureGroup(name="View cones", show=True)
    cones.add_to(m)
    groups: dict[str, folium.FeatureGroup] = {}
    counts: dict[str, int] = defaultdict(int)
    for c in cameras:
        counts[c.lifecycle] += 1
    for life in lc.LIFECYCLES:
        if counts.get(life):
            label = f"{LIFECYCLE_LABELS[life]} ({counts[life]})"
            group = folium.FeatureGroup(name=label, show=life != "decommissioned")
            group.add_to(m)
            groups[life] = group
    markers: dict[int, str] = {}
    bindings = Bindings()
    for c in cameras:
        colour = LIFECYCLE_COLOURS.get(c.lifecycle, "#777777")
        if c.cone:
            ring = c.cone["coordinates"][0]
            folium.Polygon(
                [[lat, lon] for lon, lat in ring],
                color=colour,
                weight=1,
                fill=True,
                fill_color=colour,
                fill_opacity=0.18,
                opacity=0.6,
                class_name=f"csp-cone csp-life-{css_word(c.lifecycle)}",
            ).add_to(cones)
        stroke = HEALTH_STROKE.get(c.health, HEALTH_STROKE["online"])
        marker = folium.CircleMarker(
            [c.lat, c.lon],
            radius=8,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            class_name=f"csp-cam csp-life-{css_word(c.lifecycle)} csp-health-{css_word(c.health)}",
            **stroke,
        )
        marker.add_to(groups[c.lifecycle])
        bindings.bind(
            marker,
            popup=camera_popup(c, by_camera.get(c.id), faults is not None),
            tooltip=f"{c.name} ({c.asset_tag})",
        )
        markers[c.id] = marker.get_name()
    rec_vars: list[str] = []
    if recommendations is not None:
        recs = folium.FeatureGroup(name=f"Recommendations ({len(recommendations)})")
        recs.add_to(m)
        by_id = {c.id: c for c in cameras}
        for r in recommendations:
            cam = by_id.get(r.camera_id)
            if cam is None:
                rec_vars.append("null")
                continue
            ring = folium.CircleMarker(
                [cam.lat, cam.lon],
                radius=15,
                color=REC_COLOUR,
                weight=3,
                fill=False,
                dash_array="6 4",
                class_name=f"csp-rec csp-rec-{css_word(r.action)}",
            ).add_to(recs)
            bindings.bind(
                ring,
                popup=rec_popup(r, by_id),
                tooltip=f"{r.action.replace('_', ' ')}: {cam.name}",
                max_width=340,
            )
            rec_vars.append(ring.get_name())
    folium.LayerControl(collapsed=True).add_to(m)
    return ReviewMap(map_parts(m, bindings), markers, rec_vars, dict(counts))
