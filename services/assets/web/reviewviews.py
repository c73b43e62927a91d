"""What the SEG review map shows, as plain data: cameras, faults, recommendations, decisions.

Built by the page (``pages``) from the register and drawn by ``reviewmap``; popups and the side
list read the same views. Text from people (names, reasons, minutes) stays data here and reaches
the browser only as text nodes. Health is ``None`` where the reader may not see it (the public
and crews: which cameras are down tells a reader where nobody is watching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.assets import lifecycle as lc

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
# Without health (public, crews): one plain border for every camera.
PLAIN_STROKE: dict[str, Any] = {"color": "#ffffff", "weight": 1.5}
REC_COLOUR = "#6a1b9a"
# A recorded decision rings its camera in near-black; a change waiting for its day, dashed teal.
DECISION_STROKE: dict[str, dict[str, Any]] = {
    "applied": {"color": "#212121", "weight": 3},
    "scheduled": {"color": "#00796b", "weight": 3, "dash_array": "3 3"},
    "lapsed": {"color": "#9e9e9e", "weight": 2, "dash_array": "1 3"},
}
DECISION_LABELS = lc.DECISION_LABELS

_CLASS_WORD = re.compile(r"[a-z0-9_-]+")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def css_word(value: str) -> str:
    """A vocabulary value (lifecycle, health, action) as a CSS class word; anything else refused."""
    if not _CLASS_WORD.fullmatch(value):
        raise ValueError(f"not a class word: {value!r}")
    return value


def place_text(ward: str | None, grid: str | None) -> str:
    """``"Chatham Central · TQ 7581 6823"``; says so when the ward is not recorded."""
    return f"{ward or 'Ward not recorded'} \u00b7 {grid or 'no grid reference'}"


def short_date(day: date) -> str:
    """``2 Dec 2026``."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class DecisionView:
    """A recorded SEG decision: what, when, by whom, the minute, and when it takes effect."""

    id: int
    camera_id: int
    decision: str
    meeting_date: date
    minute_ref: str
    recorded_by: str
    status: str  # lc.DecisionStatus
    effective_on: date
    related_camera_id: int | None = None
    answers: dict[str, Any] | None = None  # the recommendation it answers (action, rule)

    @property
    def label(self) -> str:
        """``Replace with digital``."""
        return DECISION_LABELS.get(self.decision, self.decision.replace("_", " "))

    @property
    def due(self) -> str | None:
        """``replace with digital on 2027-01-15`` while scheduled."""
        if self.status != lc.DecisionStatus.SCHEDULED:
            return None
        return lc.due_text(self.decision, self.effective_on)

    @property
    def detail(self) -> str:
        """When (the meeting), the minute and who recorded it; whether it lapsed."""
        line = f"meeting {short_date(self.meeting_date)} \u00b7 minute {self.minute_ref}"
        if self.status == lc.DecisionStatus.LAPSED:
            line += " \u00b7 lapsed (not applied)"
        return f"{line} \u00b7 recorded by {self.recorded_by}"

    @property
    def summary(self) -> str:
        """One line: what, what is due, the meeting, the minute and who recorded it."""
        due = f" \u00b7 due: {self.due}" if self.due else ""
        return f"{self.label}{due} \u00b7 {self.detail}"


@dataclass(frozen=True)
class CameraView:
    """What the map needs of one camera (WGS84)."""

    id: int
    asset_tag: str
    name: str
    ward: str | None
    lifecycle: str
    health: str | None  # None: not for this reader
    technology: str
    deployment: str
    lon: float
    lat: float
    cone: dict[str, Any] | None  # GeoJSON Polygon in WGS84
    next_review_due: str | None = None
    grid_ref: str | None = None  # Ordnance Survey grid reference ("TQ 7581 6823")
    purpose: str | None = None
    allowed_decisions: tuple[str, ...] = ()
    due: str | None = None  # a scheduled change: "replace with digital on 2027-01-15"

    @property
    def place(self) -> str:
        """Where it is, for lists: its ward and its grid reference."""
        return place_text(self.ward, self.grid_ref)

    @property
    def kind(self) -> str:
        """``digital, fixed``: what type of camera it is."""
        return f"{self.technology}, {self.deployment}"


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
    """A recommendation with its evidence, and the decision that answered it (if any)."""

    camera_id: int
    action: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    related_camera_id: int | None = None
    decided: DecisionView | None = None

    @property
    def action_words(self) -> str:
        """``replace with digital``."""
        return self.action.replace("_", " ")

    @property
    def pair_kind(self) -> bool:
        """True for a redundant pair's recommendation (decided together with its partner)."""
        return self.rule == "redundant_overlap" and self.related_camera_id is not None
