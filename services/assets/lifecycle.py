"""Pure domain rules of the register: lifecycle transitions, decisions, fault health, downtime,
SLA targets and camera view cones. No database here; the service applies these rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry import Point, Polygon

LIFECYCLES = (
    "proposed",
    "approved",
    "rejected",
    "active",
    "under_review",
    "in_store",
    "decommissioning",
    "decommissioned",
)
HEALTHS = ("online", "degraded", "offline")
TECHNOLOGIES = ("analogue", "digital")
DEPLOYMENTS = ("fixed", "rapid")

# Allowed next lifecycle states. Nothing leaves "decommissioned": rows are never deleted.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("approved", "rejected"),
    "approved": ("active", "rejected"),
    "rejected": ("proposed",),
    "active": ("under_review", "in_store", "decommissioning"),
    "under_review": ("active", "in_store", "decommissioning"),
    "in_store": ("active", "decommissioning"),
    "decommissioning": ("decommissioned", "active"),
    "decommissioned": (),
}

# Lifecycles in which a camera is on the street (watched by reviews and recommendations).
IN_SERVICE = ("active", "under_review")
# Lifecycles shown to the public: the camera physically stands there.
PUBLIC_LIFECYCLES = ("active", "under_review", "decommissioning")

DECISIONS = (
    "retain",
    "make_permanent",
    "replace_with_digital",
    "relocate",
    "decommission",
    "withdraw",
)
# Lifecycles from which each SEG decision may be taken.
DECISION_FROM: dict[str, tuple[str, ...]] = {
    "retain": ("active", "under_review"),
    "make_permanent": ("active", "under_review"),
    "replace_with_digital": ("active", "under_review"),
    "relocate": ("active", "under_review", "in_store"),
    "decommission": ("active", "under_review", "in_store"),
    "withdraw": ("active", "under_review"),
}

FAULT_CATEGORIES = (
    "no_picture",
    "intermittent_picture",
    "cabling",
    "power",
    "network",
    "vandalism",
    "pan_tilt_zoom",
    "other",
)
# Categories that take the picture away entirely: an open one makes the camera offline.
NO_PICTURE_CATEGORIES = frozenset({"no_picture", "cabling", "power", "network"})
FAULT_STATUSES = ("open", "in_progress", "fixed", "closed")
OPEN_STATUSES = ("open", "in_progress")
FAULT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "fixed", "closed"),
    "in_progress": ("fixed", "closed"),
    "fixed": ("closed", "open"),
    "closed": (),
}
# Hours to fix, per category (service default; the partnership's maintenance contract).
SLA_HOURS: dict[str, float] = {
    "no_picture": 24.0,
    "cabling": 72.0,
    "power": 24.0,
    "network": 48.0,
    "intermittent_picture": 72.0,
    "vandalism": 72.0,
    "pan_tilt_zoom": 120.0,
    "other": 120.0,
}


def allowed_next(lifecycle: str) -> tuple[str, ...]:
    """The lifecycle states reachable from ``lifecycle`` in one step."""
    return TRANSITIONS.get(lifecycle, ())


def can_transition(src: str, dst: str) -> bool:
    """True when ``src -> dst`` is an allowed lifecycle transition."""
    return dst in allowed_next(src)


def health_for(open_categories: Iterable[str]) -> str:
    """Camera health from the categories of its open faults."""
    cats = set(open_categories)
    if cats & NO_PICTURE_CATEGORIES:
        return "offline"
    return "degraded" if cats else "online"


def merge_intervals(
    intervals: Iterable[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime]]:
    """Union of half-open intervals as sorted, disjoint intervals (empty ones dropped)."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def covered_seconds(
    intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> float:
    """Seconds of [start, end) covered by the union of ``intervals``."""
    clipped = ((max(a, start), min(b, end)) for a, b in intervals)
    return sum((b - a).total_seconds() for a, b in merge_intervals(clipped))


@dataclass(frozen=True)
class SlaStatus:
    """Whether a fault breached its SLA: target, elapsed hours and the due time."""

    target_hours: float
    elapsed_hours: float
    due_at: datetime
    breached: bool


def sla_status(
    category: str, reported_at: datetime, resolved_at: datetime | None, now: datetime
) -> SlaStatus:
    """SLA status of one fault at ``now`` (resolved faults are judged on their fix time)."""
    target = SLA_HOURS.get(category, SLA_HOURS["other"])
    end = resolved_at or now
    elapsed = (end - reported_at).total_seconds() / 3600.0
    return SlaStatus(target, elapsed, reported_at + timedelta(hours=target), elapsed > target)


def view_cone(
    x: float, y: float, bearing_deg: float | None, fov_deg: float | None, range_m: float | None,
    *, arc_points: int = 16,
) -> Polygon | None:
    """A camera's view in EPSG:27700: a sector of ``range_m`` metres around ``bearing_deg``
    (clockwise from grid north) spanning ``fov_deg``; a disc when fov >= 360; None if unknown."""
    if range_m is None or range_m <= 0 or fov_deg is None or fov_deg <= 0:
        return None
    if fov_deg >= 360 or bearing_deg is None:
        if fov_deg < 360:
            return None
        return Polygon(Point(x, y).buffer(range_m, quad_segs=16).exterior.coords)
    half = fov_deg / 2.0
    ring = [(x, y)]
    for i in range(arc_points + 1):
        ang = math.radians(bearing_deg - half + fov_deg * i / arc_points)
        ring.append((x + range_m * math.sin(ang), y + range_m * math.cos(ang)))
    ring.append((x, y))
    return Polygon(ring)


def overlap_share(area_a: float, area_b: float, area_ab: float) -> float:
    """Overlap area over the smaller of the two view areas (0 when either is empty)."""
    smaller = min(area_a, area_b)
    return area_ab / smaller if smaller > 0 else 0.0


def shown_allowed(states: Sequence[str]) -> str:
    """Human list of allowed states for an error detail."""
    return ", ".join(states) if states else "none (final state)"
