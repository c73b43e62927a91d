"""Recommendation use cases: gather each in-service camera's evidence over a window (incidents
in view, footage requests, faults and downtime, overlapping views) and apply the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.clock import aware, now_utc
from services.assets.faults.availability import availability_from_faults, faults_overlapping
from services.assets.models import Camera, FootageRequest
from services.assets.recommendations.coverage import (
    EvidenceWindow,
    covered_days,
    incident_coverage,
    incidents_in,
)
from services.assets.recommendations.rules import Evidence, Recommendation, Thresholds, recommend
from services.assets.settings import AssetsSettings
from shared.errors import InvalidInput
from shared.incidents.models import Incident

# Radius used for incidents near a camera that has no recorded view (metres).
DEFAULT_VIEW_RADIUS_M = 50.0


def thresholds_from(settings: AssetsSettings) -> Thresholds:
    """Rule thresholds from the service settings."""
    return Thresholds(
        min_incidents=settings.recommend_min_incidents,
        min_footage_requests=settings.recommend_min_footage_requests,
        max_downtime_share=settings.recommend_max_downtime_share,
        max_faults=settings.recommend_max_faults,
        overlap_share=settings.recommend_overlap_share,
    )


def window(*, window_days: int, as_of: datetime | None = None) -> tuple[datetime, datetime]:
    """The ``window_days`` before ``as_of`` (now when None) as aware (start, end)."""
    if window_days < 1:
        raise InvalidInput("window_days must be at least 1")
    end = aware(as_of) if as_of else now_utc()
    return end - timedelta(days=window_days), end


def gather_evidence(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    camera_ids: Sequence[int] | None = None,
) -> tuple[list[Evidence], list[tuple[int, int, float]]]:
    """Per in-service camera evidence over [start, end) and overlapping view pairs."""
    cams_stmt = select(Camera).where(Camera.lifecycle.in_(lc.IN_SERVICE))
    if camera_ids is not None:
        cams_stmt = cams_stmt.where(Camera.id.in_(list(camera_ids)))
    cams = list(session.scalars(cams_stmt.order_by(Camera.id)))
    ids = [c.id for c in cams]
    if not ids:
        return [], []
    area = func.coalesce(Camera.view_geom, func.ST_Buffer(Camera.geom, DEFAULT_VIEW_RADIUS_M))
    incidents = dict(
        session.execute(
            select(Camera.id, func.count(Incident.id))
            .join(
                Incident,
                and_(
                    func.ST_Intersects(Incident.geom, area),
                    Incident.occurred_at >= start,
                    Incident.occurred_at < end,
                ),
            )
            .where(Camera.id.in_(ids))
            .group_by(Camera.id)
        )
        .tuples()
        .all()
    )
    footage = dict(
        session.execute(
            select(FootageRequest.camera_id, func.count())
            .where(
                FootageRequest.camera_id.in_(ids),
                FootageRequest.requested_on >= start.date(),
                FootageRequest.requested_on < end.date(),
            )
            .group_by(FootageRequest.camera_id)
        )
        .tuples()
        .all()
    )
    fault_rows = faults_overlapping(session, camera_ids=ids, start=start, end=end)
    now = now_utc()
    out = []
    for c in cams:
        mine = [f for f in fault_rows if f.camera_id == c.id]
        av = availability_from_faults(c.id, mine, start, end, now)
        n_faults = sum(1 for f in mine if start <= f.reported_at < end)
        age = (end.date() - c.installed_on).days / 365.25 if c.installed_on else None
        out.append(
            Evidence(
                camera_id=c.id,
                asset_tag=c.asset_tag,
                name=c.name,
                technology=c.technology,
                deployment=c.deployment,
                installed_on=c.installed_on,
                expected_life_years=c.expected_life_years,
                age_years=round(age, 2) if age is not None else None,
                incidents=int(incidents.get(c.id, 0)),
                footage_requests=int(footage.get(c.id, 0)),
                faults=n_faults,
                downtime_hours=round(av.downtime_hours, 2),
                downtime_share=round(1.0 - av.availability, 4),
            )
        )
    return out, _overlap_pairs(session, ids)


def _overlap_pairs(session: Session, ids: list[int]) -> list[tuple[int, int, float]]:
    sql = text("""
        SELECT a.id, b.id, ST_Area(a.view_geom), ST_Area(b.view_geom),
               ST_Area(ST_Intersection(a.view_geom, b.view_geom))
        FROM assets.cameras a
        JOIN assets.cameras b ON a.id < b.id AND ST_Intersects(a.view_geom, b.view_geom)
        WHERE a.id = ANY(:ids) AND b.id = ANY(:ids)
    """)
    out = []
    for a, b, area_a, area_b, area_ab in session.execute(sql, {"ids": ids}):
        out.append((int(a), int(b), lc.overlap_share(area_a, area_b, area_ab)))
    return out


def incident_days(session: Session, window: EvidenceWindow) -> int:
    """Days of the window the incident data cover; 0 when it holds no incident at all (a gap
    in the data, or data that end before it: either way a count of 0 says nothing)."""
    if incidents_in(session, start=window.start, end=window.end) == 0:
        return 0
    coverage = incident_coverage(session)
    return covered_days(coverage, first=window.first_day, last=window.last_day)


def recommendations(
    session: Session,
    *,
    window_days: int,
    settings: AssetsSettings,
    as_of: datetime | None = None,
    start: datetime | None = None,
    camera_ids: Sequence[int] | None = None,
) -> list[Recommendation]:
    """Advice for the SEG over the ``window_days`` before ``as_of``, each with its evidence.

    ``start`` overrides where the window begins (a page counts whole London days back).
    """
    first, end = window(window_days=window_days, as_of=as_of)
    start = aware(start) if start is not None else first
    if start >= end:
        raise InvalidInput("the window must start before it ends")
    evidence, pairs = gather_evidence(session, start=start, end=end, camera_ids=camera_ids)
    span = EvidenceWindow(start, end, None)
    days = incident_days(session, span)
    evidence = [replace(e, incident_days=days, window_days=span.days) for e in evidence]
    by_id = {e.camera_id: e for e in evidence}
    for a, b, share in pairs:
        by_id[a].overlaps.append({"camera_id": b, "share": round(share, 3)})
        by_id[b].overlaps.append({"camera_id": a, "share": round(share, 3)})
    return recommend(evidence, pairs, thresholds_from(settings))
