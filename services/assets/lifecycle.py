"""Pure domain rules of the register: lifecycle transitions, decisions, fault health, downtime,
SLA targets and camera view cones. No database here; the service applies these rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from shapely.geometry import Point, Polygon

from services.assets.enums import (
    CameraHealth,
    CameraLifecycle,
    DecisionKind,
    Deployment,
    FaultCategory,
    FaultStatus,
    Technology,
)

_L = CameraLifecycle
LIFECYCLES = tuple(CameraLifecycle)
HEALTHS = tuple(CameraHealth)
TECHNOLOGIES = tuple(Technology)
DEPLOYMENTS = tuple(Deployment)

# Allowed next lifecycle states. Nothing leaves "decommissioned": rows are never deleted.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    _L.PROPOSED: (_L.APPROVED, _L.REJECTED),
    _L.APPROVED: (_L.ACTIVE, _L.REJECTED),
    _L.REJECTED: (_L.PROPOSED,),
    _L.ACTIVE: (_L.UNDER_REVIEW, _L.IN_STORE, _L.DECOMMISSIONING),
    _L.UNDER_REVIEW: (_L.ACTIVE, _L.IN_STORE, _L.DECOMMISSIONING),
    _L.IN_STORE: (_L.ACTIVE, _L.DECOMMISSIONING),
    _L.DECOMMISSIONING: (_L.DECOMMISSIONED, _L.ACTIVE),
    _L.DECOMMISSIONED: (),
}

# Lifecycles a camera can be registered in (POST /cameras).
REGISTERABLE = (_L.PROPOSED, _L.APPROVED, _L.ACTIVE)
# Lifecycles in which a camera is on the street (watched by reviews and recommendations).
IN_SERVICE = (_L.ACTIVE, _L.UNDER_REVIEW)
# Lifecycles shown to the public: the camera physically stands there.
PUBLIC_LIFECYCLES = (_L.ACTIVE, _L.UNDER_REVIEW, _L.DECOMMISSIONING)
# Lifecycles whose record is read-only (PATCH and the register import refuse to change it).
READ_ONLY_LIFECYCLES = (_L.DECOMMISSIONED,)
# Lifecycles in which a camera takes no faults (it is not, or no longer, on the street).
NO_FAULT_LIFECYCLES = (_L.DECOMMISSIONED, _L.REJECTED, _L.PROPOSED)
# Commissioning: moving into active from these sets the next review date.
COMMISSIONED_FROM = (_L.APPROVED, _L.IN_STORE)
# Final lifecycles: no review is due.
ENDED = (_L.DECOMMISSIONED, _L.REJECTED)

_D = DecisionKind
DECISIONS = tuple(DecisionKind)
# Lifecycles from which each SEG decision may be taken.
DECISION_FROM: dict[str, tuple[str, ...]] = {
    _D.RETAIN: IN_SERVICE,
    _D.MAKE_PERMANENT: IN_SERVICE,
    _D.REPLACE_WITH_DIGITAL: IN_SERVICE,
    _D.RELOCATE: (*IN_SERVICE, _L.IN_STORE),
    _D.DECOMMISSION: (*IN_SERVICE, _L.IN_STORE),
    _D.WITHDRAW: IN_SERVICE,
}

# Decisions that can be taken ahead of the works and take effect on a later day (a scheduled
# change: the register keeps today's facts until then). The others take effect when recorded.
SCHEDULABLE = (_D.REPLACE_WITH_DIGITAL, _D.RELOCATE)
# While a change is scheduled, the camera takes no other decision but a retain (its review).
WHILE_SCHEDULED = (_D.RETAIN,)
# The longest a change may be scheduled ahead of its meeting (days): works are planned in years.
MAX_SCHEDULE_DAYS = 5 * 366
DECISION_LABELS: dict[str, str] = {
    _D.RETAIN: "Retain",
    _D.MAKE_PERMANENT: "Make permanent",
    _D.REPLACE_WITH_DIGITAL: "Replace with digital",
    _D.RELOCATE: "Relocate",
    _D.DECOMMISSION: "Decommission (remove)",
    _D.WITHDRAW: "Withdraw to store",
}


class DecisionStatus(StrEnum):
    """Whether a decision has taken effect on its camera, waits for its day, or lapsed."""

    SCHEDULED = "scheduled"
    APPLIED = "applied"
    LAPSED = "lapsed"  # its day came but the camera no longer allowed it (said in the trail)


DECISION_STATUSES = tuple(DecisionStatus)


def decision_refusal(
    kind: str, *, lifecycle: str, technology: str, deployment: str, scheduled: str | None = None
) -> str | None:
    """Why ``kind`` cannot be decided for a camera in this state (None when it can).

    ``scheduled`` is the decision already waiting for its day on this camera, if any.
    """
    if scheduled is not None and kind not in WHILE_SCHEDULED:
        return f"a {decision_words(scheduled)} is already scheduled"
    allowed_from = DECISION_FROM.get(kind, ())
    if lifecycle not in allowed_from:
        return f"it is {lifecycle.replace('_', ' ')} (needs one of: {', '.join(allowed_from)})"
    if kind == _D.MAKE_PERMANENT and deployment != Deployment.RAPID:
        return "it is already a fixed camera"
    if kind == _D.WITHDRAW and deployment != Deployment.RAPID:
        return "only rapid-deployment cameras are withdrawn to store (decommission it instead)"
    if kind == _D.REPLACE_WITH_DIGITAL and technology != Technology.ANALOGUE:
        return "it is already digital"
    return None


def allowed_decisions(
    *, lifecycle: str, technology: str, deployment: str, scheduled: str | None = None
) -> tuple[str, ...]:
    """The SEG decisions a camera in this state can take, in the register's order."""
    return tuple(
        str(k)
        for k in DECISIONS
        if decision_refusal(
            k,
            lifecycle=lifecycle,
            technology=technology,
            deployment=deployment,
            scheduled=scheduled,
        )
        is None
    )


def decision_words(kind: str) -> str:
    """``replace_with_digital`` -> ``replace with digital``."""
    return kind.replace("_", " ")


def due_text(kind: str, effective_on: date) -> str:
    """What a scheduled change says: ``replace with digital on 2027-01-15``."""
    return f"{decision_words(kind)} on {effective_on.isoformat()}"


_C = FaultCategory
FAULT_CATEGORIES = tuple(FaultCategory)
# Categories that take the picture away entirely: an open one makes the camera offline.
NO_PICTURE_CATEGORIES = frozenset(
    {
        _C.NO_PICTURE,
        _C.CABLING,
        _C.POWER,
        _C.NETWORK,
        _C.NO_CONNECTION,
        _C.AUTHENTICATION_FAILED,
        _C.FROZEN_PICTURE,
    }
)
_S = FaultStatus
FAULT_STATUSES = tuple(FaultStatus)
OPEN_STATUSES = (_S.OPEN, _S.IN_PROGRESS)
RESOLVED_STATUSES = (_S.FIXED, _S.CLOSED)
FAULT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    _S.OPEN: (_S.IN_PROGRESS, _S.FIXED, _S.CLOSED),
    _S.IN_PROGRESS: (_S.FIXED, _S.CLOSED),
    _S.FIXED: (_S.CLOSED, _S.OPEN),
    _S.CLOSED: (),
}
# Hours to fix, per category (service default; the partnership's maintenance contract).
SLA_HOURS: dict[str, float] = {
    _C.NO_PICTURE: 24.0,
    _C.CABLING: 72.0,
    _C.POWER: 24.0,
    _C.NETWORK: 48.0,
    _C.INTERMITTENT_PICTURE: 72.0,
    _C.VANDALISM: 72.0,
    _C.PAN_TILT_ZOOM: 120.0,
    _C.NO_CONNECTION: 48.0,
    _C.AUTHENTICATION_FAILED: 24.0,
    _C.FROZEN_PICTURE: 24.0,
    _C.OBSCURED: 72.0,
    _C.VIEW_MOVED: 72.0,
    _C.OTHER: 120.0,
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
        return CameraHealth.OFFLINE
    return CameraHealth.DEGRADED if cats else CameraHealth.ONLINE


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
    target = SLA_HOURS.get(category, SLA_HOURS[_C.OTHER])
    end = resolved_at or now
    elapsed = (end - reported_at).total_seconds() / 3600.0
    return SlaStatus(target, elapsed, reported_at + timedelta(hours=target), elapsed > target)


def view_cone(
    x: float,
    y: float,
    bearing_deg: float | None,
    fov_deg: float | None,
    range_m: float | None,
    *,
    arc_points: int = 16,
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
