"""The SEG review map: cameras by lifecycle and health, view cones, faults, recommendations.

Built with folium through ``shared.maps`` (no CDN). Markers carry CSS classes
(``csp-cam csp-life-<lifecycle> csp-health-<health>``, ``csp-cone``, ``csp-rec``) so pages and
tests can find them. Every text that goes into a popup is escaped for HTML *and* for the
JavaScript template literal folium wraps popups in.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import folium

from services.assets import lifecycle as lc
from shared.maps import MapParts, make_map, map_parts

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


def esc(text: object) -> str:
    """Escape for HTML and for the JS template literal folium puts popup HTML in."""
    s = html.escape("" if text is None else str(text), quote=True)
    return s.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


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


def _fault_html(faults: Sequence[FaultView]) -> str:
    if not faults:
        return ""
    rows = "".join(
        f"<li><b>{esc(f.number)}</b> {esc(f.category.replace('_', ' '))} "
        f"<span class='badge'>{esc(f.status.replace('_', ' '))}</span><br>"
        f"<small>{esc(f.reported_at.strftime('%d %b %Y %H:%M'))}"
        + (f", due {esc(f.sla_due.strftime('%d %b %H:%M'))}" if f.sla_due else "")
        + f"</small><br>{esc(f.description[:200])}</li>"
        for f in faults
    )
    return f"<div class='csp-faults'><b>Open faults ({len(faults)})</b><ul>{rows}</ul></div>"


def _camera_popup(c: CameraView, faults: Sequence[FaultView] | None, signed_in: bool) -> str:
    lines = [
        f"<div class='csp-popup'><b>{esc(c.name)}</b> <small>{esc(c.asset_tag)}</small>",
        f"<div>{esc(LIFECYCLE_LABELS.get(c.lifecycle, c.lifecycle))} &middot; "
        f"<span class='badge health-{esc(c.health)}'>{esc(c.health)}</span></div>",
        f"<div><small>{esc(c.technology)}, {esc(c.deployment)}"
        + (f", {esc(c.ward)}" if c.ward else "")
        + "</small></div>",
    ]
    if c.next_review_due:
        lines.append(f"<div><small>Review due {esc(c.next_review_due)}</small></div>")
    if faults:
        lines.append(_fault_html(faults))
    elif signed_in:
        lines.append("<div><small>No open faults</small></div>")
    lines.append("</div>")
    return "".join(lines)


def _evidence_html(ev: dict[str, Any]) -> str:
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
        rows.append(f"<tr><th>{esc(label)}</th><td>{esc(shown)}</td></tr>")
    return f"<table class='csp-evidence'>{''.join(rows)}</table>"


def rec_popup(r: RecView, cams: dict[int, CameraView]) -> str:
    """Popup HTML of one recommendation: action, rule, reason and the evidence table."""
    cam = cams.get(r.camera_id)
    name = cam.name if cam else f"camera {r.camera_id}"
    related = cams.get(r.related_camera_id) if r.related_camera_id else None
    return (
        f"<div class='csp-popup'><b>{esc(r.action.replace('_', ' ').capitalize())}</b>: "
        f"{esc(name)}<br><small>Rule: {esc(r.rule.replace('_', ' '))}</small>"
        f"<p>{esc(r.reason)}</p>"
        + (f"<p><small>Related: {esc(related.name)}</small></p>" if related else "")
        + _evidence_html(r.evidence)
        + "</div>"
    )


def build_review_map(
    cameras: Sequence[CameraView],
    *,
    faults: Sequence[FaultView] | None = None,
    recommendations: Sequence[RecView] | None = None,
    tiles: bool = True,
) -> ReviewMap:
    """The folium map: a layer per lifecycle, view cones, and (when given) recommendations.

    ``faults`` and ``recommendations`` are None for visitors without a token; then neither
    the popups nor the layers mention them.
    """
    bounds = _bounds(cameras)
    m = make_map(MEDWAY_LONLAT, bounds=bounds, zoom_start=12, tiles=tiles)
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
                class_name=f"csp-cone csp-life-{c.lifecycle}",
            ).add_to(cones)
        stroke = HEALTH_STROKE.get(c.health, HEALTH_STROKE["online"])
        marker = folium.CircleMarker(
            [c.lat, c.lon],
            radius=8,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            class_name=f"csp-cam csp-life-{c.lifecycle} csp-health-{c.health}",
            popup=folium.Popup(
                _camera_popup(c, by_camera.get(c.id), faults is not None), max_width=320
            ),
            tooltip=esc(f"{c.name} ({c.asset_tag})"),
            **stroke,
        )
        marker.add_to(groups[c.lifecycle])
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
                class_name=f"csp-rec csp-rec-{r.action}",
                popup=folium.Popup(rec_popup(r, by_id), max_width=340),
                tooltip=esc(f"{r.action.replace('_', ' ')}: {cam.name}"),
            ).add_to(recs)
            rec_vars.append(ring.get_name())
    folium.LayerControl(collapsed=True).add_to(m)
    return ReviewMap(map_parts(m), markers, rec_vars, dict(counts))
