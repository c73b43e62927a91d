"""The recommendations still open at a quarter's end, with what the incident data cover.

The advice is the review map's (``recommendations.service``) over the evidence window ending on
the quarter's last day. A recommendation is open until the SEG records a decision on its camera
at a meeting on or after the day the window begins. Where the window holds no incident data, a
camera's 0 incidents in view says nothing: its advice reads "no incident data for this window",
never "no evidence of use".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.assets.models import Camera
from services.assets.recommendations import service as recs_svc
from services.assets.recommendations.coverage import (
    EvidenceWindow,
    IncidentCoverage,
    evidence_window,
    incident_coverage,
    incidents_in,
)
from services.assets.settings import AssetsSettings

MAX_ROWS = 500
# Rules whose advice rests on a camera having no incidents in view.
RESTS_ON_NO_INCIDENTS = frozenset({"no_evidence_of_use"})


@dataclass(frozen=True)
class OpenRecommendation:
    """One piece of advice not yet decided: the camera, the action, the rule and why."""

    asset_tag: str
    camera: str
    ward: str | None
    action: str
    rule: str
    reason: str
    related_tag: str | None
    no_incident_data: bool = False


@dataclass(frozen=True)
class OpenRecommendations:
    """The open advice, how much was decided, and the incident data behind it."""

    window: EvidenceWindow
    items: list[OpenRecommendation]
    total: int
    decided: int
    incidents: int
    coverage: IncidentCoverage | None

    @property
    def no_incident_data(self) -> bool:
        """True when the evidence window holds no incident at all."""
        return self.incidents == 0


def no_data_reason(footage_requests: int) -> str:
    """The advice's reason when the window holds no incident data."""
    plural = "" if footage_requests == 1 else "s"
    return (
        f"No incident data for this window ({footage_requests} footage request{plural}): "
        "whether the camera is used cannot be judged until incident data for these days are "
        "imported"
    )


def decided_cameras(session: Session, *, since: date) -> set[int]:
    """Cameras with an SEG decision at a meeting on or after ``since``, and the other camera
    of each pair decided together."""
    sql = text("""
        SELECT d.camera_id FROM assets.decisions d WHERE d.meeting_date >= :since
        UNION
        SELECT e.related_camera_id FROM assets.decision_effects e
          JOIN assets.decisions d ON d.id = e.decision_id
         WHERE d.meeting_date >= :since AND e.related_camera_id IS NOT NULL
    """)
    return {int(i) for i in session.scalars(sql, {"since": since})}


def open_recommendations(
    session: Session, *, last_day: date, settings: AssetsSettings, now: datetime
) -> OpenRecommendations:
    """Advice over the window ending on ``last_day`` whose camera has no decision since."""
    days = settings.recommend_window_days
    window = evidence_window(window_days=days, as_of=last_day, now=now)
    recs = recs_svc.recommendations(
        session, window_days=days, settings=settings, as_of=window.end, start=window.start
    )
    decided = decided_cameras(session, since=window.first_day)
    still = [r for r in recs if r.camera_id not in decided]
    ids = {r.camera_id for r in still} | {r.related_camera_id for r in still if r.related_camera_id}
    cams = {c.id: c for c in session.scalars(select(Camera).where(Camera.id.in_(sorted(ids))))}
    count = incidents_in(session, start=window.start, end=window.end)
    items = []
    for r in still[:MAX_ROWS]:
        cam = cams[r.camera_id]
        blind = count == 0 and r.rule in RESTS_ON_NO_INCIDENTS
        related = cams[r.related_camera_id].asset_tag if r.related_camera_id else None
        reason = no_data_reason(int(r.evidence.get("footage_requests", 0))) if blind else r.reason
        items.append(
            OpenRecommendation(
                cam.asset_tag, cam.name, cam.ward, r.action, r.rule, reason, related, blind
            )
        )
    return OpenRecommendations(
        window=window,
        items=items,
        total=len(still),
        decided=len(recs) - len(still),
        incidents=count,
        coverage=incident_coverage(session),
    )
