"""The briefing's figures, each one SQL query over the register for a quarter.

Faults follow the register's fault model: a fault is open from ``reported_at`` until
``resolved_at`` (its fix or close; a reopened fault is open again). Downtime is the time a
camera had an open fault that takes the picture away (``lifecycle.NO_PICTURE_CATEGORIES``),
overlaps merged, as ``faults.availability`` counts it. A quarter still running is counted up
to now. Keyword-only functions, session first; nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.briefing import recommended
from services.assets.briefing.quarters import (
    Quarter,
    QuarterRange,
    quarter_range,
)
from services.assets.clock import london_day, now_utc
from services.assets.enums import FaultCategory, FootageOutcome
from services.assets.health.availability import checked_time
from services.assets.settings import AssetsSettings

# Each list on the page is capped; the page says how many more there are.
MAX_ROWS = 500
WORST_BREACHES = 10
TOP_FOOTAGE_CAMERAS = 5
_NO_PICTURE = sorted(str(c) for c in lc.NO_PICTURE_CATEGORIES)
_ON_STREET = [str(s) for s in lc.PUBLIC_LIFECYCLES]


@dataclass(frozen=True)
class Period:
    """The quarter and the part of it counted: [start, end), ``end`` now if it is running."""

    quarter: Quarter
    start: datetime
    end: datetime
    running: bool

    @property
    def first_day(self) -> date:
        """The first London day counted."""
        return self.quarter.first_day

    @property
    def last_day(self) -> date:
        """The last London day counted (today while the quarter runs)."""
        return london_day(self.end) if self.running else self.quarter.last_day

    @property
    def hours(self) -> float:
        """Hours in the period."""
        return (self.end - self.start).total_seconds() / 3600.0


@dataclass(frozen=True)
class FaultCounts:
    """Faults of the period: open at its start, logged, fixed (or closed), open at its end."""

    open_at_start: int
    opened: int
    fixed: int
    open_at_end: int
    breached: int


@dataclass(frozen=True)
class Breach:
    """A fault past its SLA target in the period, judged at its fix or at the period's end."""

    number: str
    asset_tag: str
    camera: str
    ward: str | None
    category: str
    reported_at: datetime
    resolved_at: datetime | None  # None: still open at the period's end
    target_hours: float
    taken_hours: float

    @property
    def over_hours(self) -> float:
        """Hours past the target."""
        return self.taken_hours - self.target_hours


@dataclass(frozen=True)
class BackOnline:
    """A camera whose picture came back in the period: last return and time without picture."""

    asset_tag: str
    camera: str
    ward: str | None
    returns: int
    back_at: datetime
    offline_hours: float


@dataclass(frozen=True)
class CameraUptime:
    """One camera's downtime over the period and its availability (0..1)."""

    asset_tag: str
    camera: str
    ward: str | None
    downtime_hours: float
    availability: float


@dataclass(frozen=True)
class Availability:
    """Cameras counted (on the street, or with downtime in the period) and their availability."""

    cameras: int
    downtime_hours: float
    overall: float | None  # None when no camera is counted
    with_downtime: list[CameraUptime]
    without_downtime: int
    # What the health checks saw of the digital cameras they watch (none watched: 0 and None).
    checked_cameras: int = 0
    checked_watched_share: float | None = None
    checked_overall: float | None = None


@dataclass(frozen=True)
class Footage:
    """Police footage requests of the period: counts by outcome and the busiest cameras."""

    total: int
    by_outcome: list[tuple[str, int]]
    top_cameras: list[tuple[str, str, int]]  # asset tag, name, requests


@dataclass(frozen=True)
class DecisionRow:
    """An SEG decision taken at a meeting in the period, and when it takes (took) effect."""

    meeting_date: date
    decision: str
    asset_tag: str
    camera: str
    ward: str | None
    minute_ref: str
    reason: str
    lifecycle_before: str
    lifecycle_after: str
    effective_on: date | None  # None: recorded before decisions had effect dates
    status: str | None  # applied, scheduled or lapsed


@dataclass(frozen=True)
class Briefing:
    """Every figure of one quarter's briefing."""

    period: Period
    generated_at: datetime
    faults: FaultCounts
    breaches: list[Breach]
    back_online: list[BackOnline]
    availability: Availability
    footage: Footage
    decisions: list[DecisionRow]
    decisions_total: int
    recommendations: recommended.OpenRecommendations


def first_year(session: Session) -> int | None:
    """The first London year of any fault, decision or footage request (None: none held)."""
    sql = text("""
        SELECT min(y) FROM (
            SELECT min(EXTRACT(YEAR FROM reported_at AT TIME ZONE 'Europe/London')) AS y
              FROM assets.faults
            UNION ALL SELECT min(EXTRACT(YEAR FROM meeting_date)) FROM assets.decisions
            UNION ALL SELECT min(EXTRACT(YEAR FROM requested_on)) FROM assets.footage_requests
        ) years
    """)
    year = session.execute(sql).scalar()
    return int(year) if year is not None else None


def quarters(session: Session, *, now: datetime | None = None) -> QuarterRange:
    """The quarters the briefing can show: the data's first year to the current quarter."""
    today = london_day(now or now_utc())
    return quarter_range(first_year=first_year(session), today=today)


def period_of(quarter: Quarter, *, now: datetime) -> Period:
    """The part of ``quarter`` that has happened by ``now``."""
    running = quarter.end > now
    return Period(quarter, quarter.start, min(quarter.end, now), running)


def fault_counts(session: Session, *, period: Period) -> FaultCounts:
    """Open at the start, logged, fixed or closed, open at the end, and past their SLA."""
    sql = text("""
        SELECT
          count(*) FILTER (WHERE reported_at < :start
                           AND (resolved_at IS NULL OR resolved_at >= :start)),
          count(*) FILTER (WHERE reported_at >= :start AND reported_at < :end),
          count(*) FILTER (WHERE resolved_at >= :start AND resolved_at < :end),
          count(*) FILTER (WHERE reported_at < :end
                           AND (resolved_at IS NULL OR resolved_at >= :end))
        FROM assets.faults
    """)
    row = session.execute(sql, _bounds(period)).one()
    counted = text(f"SELECT count(*) FROM ({_BREACHES}) AS b")
    breached = int(session.execute(counted, _breach_params(period)).scalar_one())
    return FaultCounts(int(row[0]), int(row[1]), int(row[2]), int(row[3]), breached)


_BREACHES = """
    WITH sla(category, hours) AS (
        SELECT key, value::float FROM jsonb_each_text(CAST(:sla AS jsonb))
    ), judged AS (
        SELECT f.id, f.number, f.camera_id, f.category, f.reported_at,
               CASE WHEN f.resolved_at < :end THEN f.resolved_at END AS resolved_at,
               COALESCE(s.hours, :other_hours) AS target_h,
               EXTRACT(EPOCH FROM LEAST(COALESCE(f.resolved_at, :end), :end) - f.reported_at)
                 / 3600.0 AS taken_h
        FROM assets.faults f LEFT JOIN sla s ON s.category = f.category
        WHERE f.reported_at < :end AND (f.resolved_at IS NULL OR f.resolved_at >= :start)
    )
    SELECT j.number, c.asset_tag, c.name, c.ward, j.category, j.reported_at, j.resolved_at,
           j.target_h, j.taken_h
    FROM judged j JOIN assets.cameras c ON c.id = j.camera_id
    WHERE j.taken_h > j.target_h
    ORDER BY j.taken_h - j.target_h DESC, j.number
"""


def breaches(
    session: Session, *, period: Period, limit: int | None = WORST_BREACHES
) -> list[Breach]:
    """Faults open at some time in the period that took longer than their SLA target, worst
    first; a fault still open at the end is judged on the time up to the end."""
    sql = _BREACHES + (" LIMIT :limit" if limit is not None else "")
    params = _breach_params(period) | {"limit": limit}
    return [
        Breach(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), float(r[8]))
        for r in session.execute(text(sql), params)
    ]


def back_online(session: Session, *, period: Period) -> list[BackOnline]:
    """Cameras whose spell without picture (merged no-picture faults) ended in the period."""
    sql = text("""
        WITH spells AS (
            SELECT camera_id,
                   unnest(range_agg(tstzrange(
                       reported_at, GREATEST(COALESCE(resolved_at, 'infinity'), reported_at), '[)'
                   ))) AS r
            FROM assets.faults
            WHERE category = ANY(:no_picture) AND reported_at < :end
            GROUP BY camera_id
        )
        SELECT c.asset_tag, c.name, c.ward, count(*), max(upper(s.r)),
               sum(EXTRACT(EPOCH FROM upper(s.r) - lower(s.r))) / 3600.0
        FROM spells s JOIN assets.cameras c ON c.id = s.camera_id
        WHERE upper(s.r) >= :start AND upper(s.r) < :end
        GROUP BY c.id, c.asset_tag, c.name, c.ward
        ORDER BY max(upper(s.r)), c.asset_tag
        LIMIT :limit
    """)
    params = _bounds(period) | {"no_picture": _NO_PICTURE, "limit": MAX_ROWS}
    return [
        BackOnline(r[0], r[1], r[2], int(r[3]), r[4], float(r[5]))
        for r in session.execute(sql, params)
    ]


def availability(session: Session, *, period: Period) -> Availability:
    """Downtime per camera over the period (cameras on the street, or with downtime in it)."""
    sql = text("""
        WITH down AS (
            SELECT camera_id,
                   range_agg(tstzrange(
                       GREATEST(reported_at, :start),
                       LEAST(COALESCE(resolved_at, :end), :end), '[)'
                   )) AS spans
            FROM assets.faults
            WHERE category = ANY(:no_picture) AND reported_at < :end
              AND (resolved_at IS NULL OR resolved_at > :start)
            GROUP BY camera_id
        ), per AS (
            SELECT d.camera_id,
                   (SELECT COALESCE(sum(EXTRACT(EPOCH FROM upper(r) - lower(r))), 0)
                      FROM unnest(d.spans) AS r) AS down_s
            FROM down d
        )
        SELECT c.asset_tag, c.name, c.ward, COALESCE(p.down_s, 0) AS down_s
        FROM assets.cameras c LEFT JOIN per p ON p.camera_id = c.id
        WHERE c.lifecycle = ANY(:on_street) OR p.down_s > 0
        ORDER BY down_s DESC, c.asset_tag
    """)
    params = _bounds(period) | {"no_picture": _NO_PICTURE, "on_street": _ON_STREET}
    rows = session.execute(sql, params).all()
    hours = period.hours
    down = [(r[0], r[1], r[2], float(r[3]) / 3600.0) for r in rows]
    total = sum(d[3] for d in down)
    listed = [
        CameraUptime(tag, name, ward, h, 1.0 - h / hours if hours > 0 else 1.0)
        for tag, name, ward, h in down
        if h > 0
    ]
    overall = 1.0 - total / (hours * len(rows)) if rows and hours > 0 else None
    seen = checked_time(
        session,
        camera_ids=None,
        first=period.first_day,
        end=period.last_day + timedelta(days=1),
        now=period.end,
    ).values()
    watched = sum(c.watched_s for c in seen)
    possible = sum(c.period_s for c in seen)
    return Availability(
        len(rows),
        total,
        overall,
        listed[:MAX_ROWS],
        len(rows) - len(listed),
        checked_cameras=len(seen),
        checked_watched_share=watched / possible if possible > 0 else None,
        checked_overall=1.0 - sum(c.down_s for c in seen) / watched if watched > 0 else None,
    )


def footage(session: Session, *, period: Period) -> Footage:
    """Footage requests made on the period's days, by outcome (every outcome, zeros too)."""
    days = {"first": period.first_day, "last": period.last_day}
    counts: dict[str, int] = dict(
        session.execute(
            text("""
                SELECT outcome, count(*) FROM assets.footage_requests
                WHERE requested_on >= :first AND requested_on <= :last GROUP BY outcome
            """),
            days,
        )
        .tuples()
        .all()
    )
    by_outcome = [(str(o), int(counts.pop(str(o), 0))) for o in FootageOutcome]
    by_outcome += sorted((str(k), int(v)) for k, v in counts.items())  # outcomes no enum names
    top = session.execute(
        text("""
            SELECT c.asset_tag, c.name, count(*) AS n
            FROM assets.footage_requests r JOIN assets.cameras c ON c.id = r.camera_id
            WHERE r.requested_on >= :first AND r.requested_on <= :last
            GROUP BY c.id, c.asset_tag, c.name ORDER BY n DESC, c.asset_tag LIMIT :limit
        """),
        days | {"limit": TOP_FOOTAGE_CAMERAS},
    ).all()
    return Footage(
        sum(n for _, n in by_outcome), by_outcome, [(r[0], r[1], int(r[2])) for r in top]
    )


def decisions(session: Session, *, period: Period) -> tuple[list[DecisionRow], int]:
    """SEG decisions taken at meetings on the period's days, in meeting order, and how many."""
    rows = session.execute(
        text("""
            SELECT d.meeting_date, d.decision, c.asset_tag, c.name, c.ward, d.minute_ref,
                   d.reason, d.lifecycle_before, d.lifecycle_after, e.effective_on, e.status,
                   count(*) OVER ()
            FROM assets.decisions d JOIN assets.cameras c ON c.id = d.camera_id
            LEFT JOIN assets.decision_effects e ON e.decision_id = d.id
            WHERE d.meeting_date >= :first AND d.meeting_date <= :last
            ORDER BY d.meeting_date, d.id LIMIT :limit
        """),
        {"first": period.first_day, "last": period.last_day, "limit": MAX_ROWS},
    ).all()
    total = int(rows[0][11]) if rows else 0
    return [DecisionRow(*r[:11]) for r in rows], total


def briefing(
    session: Session, *, quarter: Quarter, settings: AssetsSettings, now: datetime | None = None
) -> Briefing:
    """Every figure of ``quarter``'s briefing (the caller has checked the quarter's range)."""
    now = now or now_utc()
    period = period_of(quarter, now=now)
    rows, total = decisions(session, period=period)
    return Briefing(
        period=period,
        generated_at=now,
        faults=fault_counts(session, period=period),
        breaches=breaches(session, period=period),
        back_online=back_online(session, period=period),
        availability=availability(session, period=period),
        footage=footage(session, period=period),
        decisions=rows,
        decisions_total=total,
        recommendations=recommended.open_recommendations(
            session, last_day=period.last_day, settings=settings, now=now
        ),
    )


def _bounds(period: Period) -> dict[str, datetime]:
    return {"start": period.start, "end": period.end}


def _breach_params(period: Period) -> dict[str, object]:
    """The period and the SLA targets (hours per category; unknown ones take ``other``'s)."""
    return {
        "start": period.start,
        "end": period.end,
        "sla": json.dumps({str(k): v for k, v in lc.SLA_HOURS.items()}),
        "other_hours": lc.SLA_HOURS[FaultCategory.OTHER],
    }
