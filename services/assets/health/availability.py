"""Availability of cameras from their health checks: each check's finding rolled up per day, and
per camera per month beside the availability from its faults.

A check's finding holds from that check until the next one, for at most twice the check
interval: a longer gap means the checks stopped (the worker was down, the camera was taken out
of the round) and is time not watched, never counted as up or down. Down: the finding takes the
picture away (its cause opens a category of ``lifecycle.NO_PICTURE_CATEGORIES``: no connection,
no picture, frozen); degraded: any failed check (obscured and view moved too). Days are Medway's
(Europe/London), so a month is the partnership's calendar month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.clock import london_day, london_midnight
from services.assets.faults.availability import availability_from_faults, faults_overlapping
from services.assets.health.causes import FAULT_CATEGORY, Cause
from services.assets.health.models import CameraStream, HealthDay
from services.assets.models import Camera, Fault
from shared.errors import InvalidInput

# Months a monthly report may ask for at once (a year and a bit).
MAX_MONTHS = 13


def split_by_day(start: datetime, end: datetime) -> list[tuple[date, float]]:
    """[start, end) cut at Medway's midnights: (local day, seconds) in order."""
    out: list[tuple[date, float]] = []
    t = start
    while t < end:
        day = london_day(t)
        cut = min(end, london_midnight(day + timedelta(days=1)))
        out.append((day, (cut - t).total_seconds()))
        t = cut
    return out


def is_down(result: str) -> bool:
    """Whether a check's finding takes the picture away (no connection, no picture, frozen)."""
    cause = Cause(result)
    return cause != Cause.OK and FAULT_CATEGORY[cause] in lc.NO_PICTURE_CATEGORIES


@dataclass
class _Add:
    checks: int = 0
    passed: int = 0
    watched_s: float = 0.0
    down_s: float = 0.0
    degraded_s: float = 0.0


def day_additions(
    *,
    previous_at: datetime | None,
    previous_result: str | None,
    now: datetime,
    ok: bool,
    interval_s: float,
) -> dict[date, _Add]:
    """What one check adds to its camera's days: itself on its own day, and the time since the
    previous check (held for at most twice the interval) under the previous finding."""
    adds: dict[date, _Add] = defaultdict(_Add)
    today = adds[london_day(now)]
    today.checks += 1
    today.passed += int(ok)
    if previous_at is not None and previous_result is not None and previous_at < now:
        held_until = min(now, previous_at + timedelta(seconds=2 * interval_s))
        down, failed = is_down(previous_result), previous_result != Cause.OK
        for day, seconds in split_by_day(previous_at, held_until):
            a = adds[day]
            a.watched_s += seconds
            a.down_s += seconds if down else 0.0
            a.degraded_s += seconds if failed else 0.0
    return dict(adds)


def roll_up(
    session: Session,
    *,
    camera_id: int,
    previous_at: datetime | None,
    previous_result: str | None,
    now: datetime,
    ok: bool,
    interval_s: float,
) -> None:
    """Add one check to its camera's days (an upsert per day touched; no commit)."""
    adds = day_additions(
        previous_at=previous_at,
        previous_result=previous_result,
        now=now,
        ok=ok,
        interval_s=interval_s,
    )
    for day, a in sorted(adds.items()):
        stmt = insert(HealthDay).values(
            camera_id=camera_id,
            day=day,
            checks=a.checks,
            passed=a.passed,
            watched_s=a.watched_s,
            down_s=a.down_s,
            degraded_s=a.degraded_s,
        )
        ex = stmt.excluded
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[HealthDay.camera_id, HealthDay.day],
                set_={
                    "checks": HealthDay.checks + ex.checks,
                    "passed": HealthDay.passed + ex.passed,
                    "watched_s": HealthDay.watched_s + ex.watched_s,
                    "down_s": HealthDay.down_s + ex.down_s,
                    "degraded_s": HealthDay.degraded_s + ex.degraded_s,
                },
            )
        )


@dataclass(frozen=True)
class CheckedTime:
    """What the checks saw of one camera over a period."""

    checks: int
    passed: int
    watched_s: float
    down_s: float
    degraded_s: float
    period_s: float

    @property
    def availability(self) -> float | None:
        """Share of the watched time with a picture (None when never watched)."""
        return 1.0 - self.down_s / self.watched_s if self.watched_s > 0 else None

    @property
    def watched_share(self) -> float:
        """Share of the period the checks watched."""
        return min(1.0, self.watched_s / self.period_s) if self.period_s > 0 else 0.0


def checked_time(
    session: Session,
    *,
    camera_ids: Sequence[int] | None,
    first: date,
    end: date,
    now: datetime | None = None,
) -> dict[int, CheckedTime]:
    """Per camera, the checks' days in [first, end) summed (cameras never checked are absent);
    the share watched is of the period's time gone by at ``now``."""
    until = london_midnight(end) if now is None else min(london_midnight(end), now)
    period_s = max(0.0, (until - london_midnight(first)).total_seconds())
    stmt = (
        select(
            HealthDay.camera_id,
            func.sum(HealthDay.checks),
            func.sum(HealthDay.passed),
            func.sum(HealthDay.watched_s),
            func.sum(HealthDay.down_s),
            func.sum(HealthDay.degraded_s),
        )
        .where(HealthDay.day >= first, HealthDay.day < end)
        .group_by(HealthDay.camera_id)
    )
    if camera_ids is not None:
        stmt = stmt.where(HealthDay.camera_id.in_(list(camera_ids)))
    return {
        cid: CheckedTime(int(n), int(p), float(w), float(d), float(g), period_s)
        for cid, n, p, w, d, g in session.execute(stmt)
    }


@dataclass(frozen=True)
class LastCheck:
    """A camera's newest check, as the board shows it."""

    result: str
    checked_at: datetime


def last_checks(session: Session, *, camera_ids: Sequence[int]) -> dict[int, LastCheck]:
    """The newest check of each camera that has a stream and has been checked."""
    stmt = select(CameraStream.camera_id, CameraStream.last_result, CameraStream.last_checked_at)
    stmt = stmt.where(
        CameraStream.camera_id.in_(list(camera_ids)), CameraStream.last_checked_at.is_not(None)
    )
    got = session.execute(stmt)
    return {cid: LastCheck(r, at) for cid, r, at in got if r is not None and at is not None}


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the month's first day; a readable 422 otherwise."""
    try:
        year, month = (int(p) for p in text.strip().split("-"))
        if not (2000 <= year <= 2100) or len(text.strip()) != 7:
            raise ValueError
        return date(year, month, 1)
    except ValueError:
        raise InvalidInput(
            f"month: give a month as YYYY-MM between 2000-01 and 2100-12, got {text[:20]!r}"
        ) from None


def next_month(first: date) -> date:
    """The first day of the month after ``first``'s."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


@dataclass(frozen=True)
class MonthRow:
    """One camera in one month: availability from its faults and from its checks."""

    camera_id: int
    asset_tag: str
    name: str
    month: date
    fault_downtime_hours: float
    fault_availability: float
    checks: CheckedTime | None


def monthly(
    session: Session, *, first: date, months: int, camera_id: int | None, now: datetime
) -> list[MonthRow]:
    """Per camera (those that can take faults, or just ``camera_id``) per month from ``first``:
    downtime and availability from the faults, and what the checks saw."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(f"months: ask for 1 to {MAX_MONTHS} months, got {months}")
    stmt = select(Camera).order_by(Camera.asset_tag)
    if camera_id is not None:
        stmt = stmt.where(Camera.id == camera_id)
    else:
        stmt = stmt.where(Camera.lifecycle.not_in(lc.NO_FAULT_LIFECYCLES))
    cameras = list(session.scalars(stmt))
    ids = [c.id for c in cameras]
    rows: list[MonthRow] = []
    start = first
    for _ in range(months):
        end = next_month(start)
        t0, t1 = london_midnight(start), london_midnight(end)
        if t0 >= now:
            break
        faults: dict[int, list[Fault]] = defaultdict(list)
        for f in faults_overlapping(session, camera_ids=ids, start=t0, end=t1):
            faults[f.camera_id].append(f)
        seen = checked_time(session, camera_ids=ids, first=start, end=end, now=now)
        for c in cameras:
            a = availability_from_faults(c.id, faults[c.id], t0, min(t1, now), now)
            rows.append(
                MonthRow(
                    c.id,
                    c.asset_tag,
                    c.name,
                    start,
                    a.downtime_hours,
                    a.availability,
                    seen.get(c.id),
                )
            )
        start = end
    return rows
