"""Pure recommendation rules for the SEG: evidence per camera in, advice with its evidence out.

A recommendation is advice only; nothing here changes a camera. Rules, in order:
``redundant_overlap`` (two views overlap: decommission one, keep - and if analogue replace - the
other), ``end_of_life`` (older than its expected life), ``poor_reliability`` (downtime share or
fault count over the limits), ``rapid_in_use`` (a rapid-deployment camera with incidents or
footage requests: make permanent) and ``no_evidence_of_use`` (neither: review, per ICO guidance).

"No evidence of use" needs incident data: over a window the incident data do not cover, a camera
shows 0 incidents whatever happened there, so no camera is judged on its use (``incident_days``
0); over a window they cover in part, the reason says over how many days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Rule thresholds (from ``AssetsSettings.recommend_*``)."""

    min_incidents: int = 3
    min_footage_requests: int = 1
    max_downtime_share: float = 0.25
    max_faults: int = 4
    overlap_share: float = 0.5


@dataclass(frozen=True)
class Evidence:
    """What the window shows for one camera."""

    camera_id: int
    asset_tag: str
    name: str
    technology: str
    deployment: str
    installed_on: date | None
    expected_life_years: int | None
    age_years: float | None
    incidents: int
    footage_requests: int
    faults: int
    downtime_hours: float
    downtime_share: float
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    # Days of the window the incident data cover (0: none, so no judgement on use; None: not
    # known, taken as covered) of the window's ``window_days``.
    incident_days: int | None = None
    window_days: int | None = None

    @property
    def without_incident_data(self) -> bool:
        """True when the window holds no incident data at all."""
        return self.incident_days == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly evidence."""
        d = asdict(self)
        d["installed_on"] = self.installed_on.isoformat() if self.installed_on else None
        return d


@dataclass(frozen=True)
class Recommendation:
    """One piece of advice: the camera, the suggested action, the rule and its evidence."""

    camera_id: int
    action: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    related_camera_id: int | None = None


def _keep_key(e: Evidence) -> tuple[float, ...]:
    """Sort key: the camera to keep first (more use, fewer faults, newer, lower id)."""
    installed = e.installed_on.toordinal() if e.installed_on else 0
    return (-e.footage_requests, -e.incidents, e.downtime_share, e.faults, -installed, e.camera_id)


def _in_use(e: Evidence, t: Thresholds) -> bool:
    return e.incidents >= t.min_incidents or e.footage_requests >= t.min_footage_requests


def recommend(
    evidence: list[Evidence], pairs: list[tuple[int, int, float]], t: Thresholds
) -> list[Recommendation]:
    """Apply the rules to per-camera evidence and overlapping pairs (id_a, id_b, share)."""
    by_id = {e.camera_id: e for e in evidence}
    out: list[Recommendation] = []
    removed: set[int] = set()
    kept: set[int] = set()
    for a, b, share in sorted(pairs, key=lambda p: (-p[2], p[0], p[1])):
        if share < t.overlap_share or a not in by_id or b not in by_id or {a, b} & removed:
            continue
        keep, drop = sorted((by_id[a], by_id[b]), key=_keep_key)
        removed.add(drop.camera_id)
        kept.add(keep.camera_id)
        out.append(
            Recommendation(
                drop.camera_id,
                "decommission",
                "redundant_overlap",
                f"View overlaps {keep.name} by {share:.0%} of the smaller view; keep {keep.name} "
                f"(more use or newer) and remove this one",
                drop.as_dict() | {"overlap_share": round(share, 3)},
                keep.camera_id,
            )
        )
        if keep.technology == "analogue":
            out.append(
                Recommendation(
                    keep.camera_id,
                    "replace_with_digital",
                    "redundant_overlap",
                    f"Keep in place of {drop.name} (views overlap {share:.0%}) and replace the "
                    "analogue unit with a digital camera",
                    keep.as_dict() | {"overlap_share": round(share, 3)},
                    drop.camera_id,
                )
            )
    for e in sorted(evidence, key=lambda x: x.camera_id):
        if e.camera_id in removed:
            continue
        out.extend(_single_rules(e, t, replaced=e.camera_id in kept))
    return out


def _single_rules(e: Evidence, t: Thresholds, *, replaced: bool) -> list[Recommendation]:
    recs: list[Recommendation] = []
    ev = e.as_dict()
    past_life = (
        e.age_years is not None
        and e.expected_life_years is not None
        and e.age_years >= e.expected_life_years
    )
    if past_life and not replaced:
        action = "replace_with_digital" if e.technology == "analogue" else "review"
        recs.append(
            Recommendation(
                e.camera_id,
                action,
                "end_of_life",
                f"{e.age_years:.1f} years old against an expected life of {e.expected_life_years}",
                ev,
            )
        )
    unreliable = e.downtime_share > t.max_downtime_share or e.faults >= t.max_faults
    if unreliable and not replaced and not past_life:
        action = "replace_with_digital" if e.technology == "analogue" else "review"
        recs.append(
            Recommendation(
                e.camera_id,
                action,
                "poor_reliability",
                f"Down {e.downtime_share:.0%} of the window with {e.faults} faults",
                ev,
            )
        )
    if _in_use(e, t):
        if e.deployment == "rapid":
            recs.append(
                Recommendation(
                    e.camera_id,
                    "make_permanent",
                    "rapid_in_use",
                    f"Rapid-deployment camera in use: {e.incidents} incidents in view and "
                    f"{e.footage_requests} police footage requests",
                    ev,
                )
            )
    elif not e.without_incident_data:
        recs.append(
            Recommendation(
                e.camera_id,
                "review",
                "no_evidence_of_use",
                f"Review: no evidence of use ({e.incidents} incidents in view{_over(e)}, "
                f"{e.footage_requests} footage requests); ICO guidance warns against cameras "
                "that capture no incidents",
                ev,
            )
        )
    return recs


def _over(e: Evidence) -> str:
    """`` over the 120 days of the window with incident data`` when they cover only part."""
    if e.incident_days is None or e.window_days is None or e.incident_days >= e.window_days:
        return ""
    return f" over the {e.incident_days} of {e.window_days} days with incident data"
