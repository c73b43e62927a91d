"""The SEG review map: cameras by lifecycle (and health, for fault readers), view cones,
recommendations, redundant pairs and the decisions recorded.

Built with folium through ``shared.maps`` (no CDN). Markers carry CSS classes
(``csp-cam csp-life-<lifecycle> csp-health-<health>``, ``csp-cone``, ``csp-rec``, ``csp-pair``,
``csp-decision csp-decision-<status>``) so pages and tests can find them. Folium draws only
geometry and those classes (fixed vocabularies); what popups and tooltips say is built as data
(``reviewpopups``) and bound in the browser as text nodes. The views are in ``reviewviews``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import folium

from services.assets import lifecycle as lc
from services.assets.web.reviewpopups import camera_popup, rec_popup
from services.assets.web.reviewviews import (
    DECISION_STROKE,
    HEALTH_STROKE,
    LIFECYCLE_COLOURS,
    LIFECYCLE_LABELS,
    PLAIN_STROKE,
    REC_COLOUR,
    CameraView,
    DecisionView,
    FaultView,
    RecView,
    css_word,
    place_text,
)
from shared.maps import Bindings, MapParts, make_map, map_parts

__all__ = [
    "HEALTH_STROKE",
    "LIFECYCLE_COLOURS",
    "LIFECYCLE_LABELS",
    "REC_COLOUR",
    "CameraView",
    "DecisionView",
    "FaultView",
    "RecView",
    "ReviewMap",
    "build_review_map",
    "camera_popup",
    "css_word",
    "place_text",
    "rec_popup",
]
MEDWAY_LONLAT = (0.53, 51.39)


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


def _latest(decisions: Sequence[DecisionView]) -> DecisionView:
    """The decision a camera's ring shows: a change still due, else the newest."""
    due = [d for d in decisions if d.status == lc.DecisionStatus.SCHEDULED]
    return (due or sorted(decisions, key=lambda d: (d.meeting_date, d.id)))[-1]


def _draw_camera(
    c: CameraView, cones: folium.FeatureGroup, group: folium.FeatureGroup, health: bool
) -> folium.CircleMarker:
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
    classes = f"csp-cam csp-life-{css_word(c.lifecycle)}"
    stroke = PLAIN_STROKE
    if health and c.health is not None:
        classes += f" csp-health-{css_word(c.health)}"
        stroke = HEALTH_STROKE.get(c.health, HEALTH_STROKE["online"])
    marker = folium.CircleMarker(
        [c.lat, c.lon],
        radius=8,
        fill=True,
        fill_color=colour,
        fill_opacity=0.95,
        class_name=classes,
        **stroke,
    )
    marker.add_to(group)
    return marker


def build_review_map(
    cameras: Sequence[CameraView],
    *,
    faults: Sequence[FaultView] | None = None,
    recommendations: Sequence[RecView] | None = None,
    decisions: Sequence[DecisionView] | None = None,
    signed_in: bool | None = None,
    can_decide: bool = False,
    window_note: str | None = None,
    tiles: str = "",
    tile_attribution: str | None = None,
) -> ReviewMap:
    """The folium map: a layer per lifecycle, view cones, and (when given) recommendations,
    redundant pairs and decisions.

    ``faults``, ``recommendations`` and ``decisions`` are None for people who may not read
    them; then neither the popups nor the layers mention them, and without faults no camera's
    health is drawn (the public and crews see where cameras are, not which are down).
    ``can_decide`` adds the "Record decision" links; ``window_note`` goes in every camera's
    popup (the evidence window holds no incident data). ``tiles`` is the tile URL template ("" draws
    none), ``tile_attribution`` its credit line.
    """
    signed_in = faults is not None if signed_in is None else signed_in
    m = make_map(
        MEDWAY_LONLAT,
        bounds=_bounds(cameras),
        zoom_start=12,
        tiles=tiles,
        tile_attribution=tile_attribution or None,
    )
    by_camera: dict[int, list[FaultView]] = defaultdict(list)
    for f in faults or ():
        by_camera[f.camera_id].append(f)
    decided: dict[int, list[DecisionView]] = defaultdict(list)
    for d in decisions or ():
        decided[d.camera_id].append(d)
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
        marker = _draw_camera(c, cones, groups[c.lifecycle], faults is not None)
        popup = camera_popup(
            c,
            by_camera.get(c.id) if faults is not None else None,
            signed_in,
            decisions=decided.get(c.id) if decisions is not None else None,
            can_decide=can_decide,
            window_note=window_note,
        )
        bindings.bind(marker, popup=popup, tooltip=f"{c.name} ({c.asset_tag})")
        markers[c.id] = marker.get_name()
    by_id = {c.id: c for c in cameras}
    if decisions is not None:
        _draw_decisions(m, decided, by_id, bindings)
    rec_vars: list[str] = []
    if recommendations is not None:
        rec_vars = _draw_recommendations(m, recommendations, by_id, markers, bindings, can_decide)
    folium.LayerControl(collapsed=True).add_to(m)
    return ReviewMap(map_parts(m, bindings), markers, rec_vars, dict(counts))


def _draw_decisions(
    m: folium.Map,
    decided: dict[int, list[DecisionView]],
    by_id: dict[int, CameraView],
    bindings: Bindings,
) -> None:
    """A ring round each camera with a decision: solid when recorded, dashed while due."""
    shown = [(by_id[cid], ds) for cid, ds in decided.items() if cid in by_id and ds]
    layer = folium.FeatureGroup(name=f"SEG decisions ({len(shown)})")
    layer.add_to(m)
    for cam, ds in shown:
        last = _latest(ds)
        ring = folium.CircleMarker(
            [cam.lat, cam.lon],
            radius=12,
            fill=False,
            class_name=(
                f"csp-decision csp-decision-{css_word(last.status)} "
                f"csp-decided-{css_word(last.decision)}"
            ),
            **DECISION_STROKE.get(last.status, DECISION_STROKE["applied"]),
        ).add_to(layer)
        tip = f"{last.label}: {cam.name}" + (f" (due: {last.due})" if last.due else "")
        bindings.bind(ring, tooltip=tip)


def _draw_recommendations(
    m: folium.Map,
    recommendations: Sequence[RecView],
    by_id: dict[int, CameraView],
    markers: dict[int, str],
    bindings: Bindings,
    can_decide: bool,
) -> list[str]:
    """A dashed ring per open recommendation and a line joining each redundant pair; a decided
    recommendation opens its camera (whose popup has the decision) instead of a ring."""
    open_recs = sum(1 for r in recommendations if r.decided is None)
    layer = folium.FeatureGroup(name=f"Recommendations ({open_recs})")
    layer.add_to(m)
    rec_vars: list[str] = []
    joined: set[frozenset[int]] = set()
    for i, r in enumerate(recommendations):
        cam = by_id.get(r.camera_id)
        if cam is None:
            rec_vars.append("null")
            continue
        if r.decided is not None:
            rec_vars.append(markers[cam.id])
            continue
        other = by_id.get(r.related_camera_id) if r.pair_kind and r.related_camera_id else None
        if other is not None and frozenset((cam.id, other.id)) not in joined:
            joined.add(frozenset((cam.id, other.id)))
            line = folium.PolyLine(  # type: ignore[no-untyped-call]  # folium is untyped
                [[cam.lat, cam.lon], [other.lat, other.lon]],
                color=REC_COLOUR,
                weight=3,
                dash_array="2 5",
                class_name="csp-pair",
            ).add_to(layer)
            bindings.bind(line, tooltip=f"Redundant pair: {cam.name} and {other.name}")
        ring = folium.CircleMarker(
            [cam.lat, cam.lon],
            radius=15,
            color=REC_COLOUR,
            weight=3,
            fill=False,
            dash_array="6 4",
            class_name=f"csp-rec csp-rec-{css_word(r.action)}",
        ).add_to(layer)
        bindings.bind(
            ring,
            popup=rec_popup(r, by_id, index=i, can_decide=can_decide),
            tooltip=f"{r.action_words}: {cam.name}",
            max_width=340,
        )
        rec_vars.append(ring.get_name())
    return rec_vars
