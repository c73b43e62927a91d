"""Availability per camera per month from the health checks as well as from the faults (real
PostGIS; checks recorded through the service with fabricated readings at chosen times, so no
stream is needed): what the checks watched, down and degraded time, gaps not counted, Medway's
days and months, the API's bounds and roles, and check retention.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.assets.clock import london_midnight
from services.assets.faults.availability import camera_availability
from services.assets.health import availability as ha
from services.assets.health import faults as hf
from services.assets.health import service as svc
from services.assets.health.causes import Cause
from services.assets.health.models import HealthCheck, HealthDay
from services.assets.health.stream import Sample, StreamFailure
from tests.integration.health.support import camera_with_stream
from tests.unit.test_camera_health_judge import BASE, live

pytestmark = pytest.mark.integration
STEP = timedelta(minutes=5)


def reading(camera_id: int, result: Cause) -> svc.Reading:
    """A reading that the service judges as ``result`` (a live scene for ok; black frames for no
    picture; a failure for a lost connection)."""
    if result == Cause.OK:
        return svc.Reading(camera_id, Sample(live(BASE), 0.5, 640, 480), None, 500)
    if result == Cause.NO_PICTURE:
        black = [live(BASE)[0] * 0 for _ in range(6)]
        return svc.Reading(camera_id, Sample(black, 0.5, 640, 480), None, 500)
    return svc.Reading(camera_id, None, StreamFailure(result, "test"), 100)


def record(s: Any, st: Any, camera_id: int, plan: list[tuple[datetime, Cause]]) -> None:
    for at, result in plan:
        got = svc.record_reading(s, reading=reading(camera_id, result), settings=st, now=at)
        assert got.result == result.value, (at, got.result, got.measurement)


def expected(plan: list[tuple[datetime, Cause]], cap: timedelta) -> dict[str, float]:
    """Seconds watched / down / degraded, counted one second-step at a time from the plan."""
    out = {"watched": 0.0, "down": 0.0, "degraded": 0.0}
    for (t0, r0), (t1, _) in zip(plan, plan[1:], strict=False):
        held = min(t1 - t0, cap).total_seconds()
        out["watched"] += held
        if r0 != Cause.OK:
            out["degraded"] += held
        if r0 in (Cause.REFUSED, Cause.TIMED_OUT, Cause.NO_STREAM, Cause.NO_PICTURE):
            out["down"] += held
    return out


def test_split_by_day_cuts_at_medway_midnights_across_the_clock_change() -> None:
    # 29 March 2026: the clocks go forward at 01:00 UTC; Medway's day is 23 hours long.
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 23:00 GMT on the 28th
    parts = ha.split_by_day(start, start + timedelta(hours=26))
    assert [d for d, _ in parts] == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    assert [round(s / 3600, 3) for _, s in parts] == [1.0, 23.0, 2.0]
    # Summer: midnight in Medway is 23:00 UTC the day before.
    summer = ha.split_by_day(
        datetime(2026, 7, 1, 22, 30, tzinfo=UTC), datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    )
    assert summer == [(date(2026, 7, 1), 1800.0), (date(2026, 7, 2), 1800.0)]


def test_checks_roll_up_into_watched_down_and_degraded_time(
    db_session: Any, health_settings: Any
) -> None:
    s, st = db_session, health_settings
    cid = camera_with_stream(s, st, "rtsp://127.0.0.1:9/availability")
    t = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    plan: list[tuple[datetime, Cause]] = []
    for _ in range(12):  # an hour of good pictures
        plan.append((t, Cause.OK))
        t += STEP
    for _ in range(6):  # half an hour refused: down
        plan.append((t, Cause.REFUSED))
        t += STEP
    for _ in range(4):  # twenty minutes black: down
        plan.append((t, Cause.NO_PICTURE))
        t += STEP
    plan.append((t, Cause.OK))
    t += timedelta(hours=3)  # the checks stopped for three hours: only 10 minutes count
    for _ in range(3):
        plan.append((t, Cause.OK))
        t += STEP
    record(s, st, cid, plan)

    want = expected(plan, 2 * STEP)
    day = s.get(HealthDay, (cid, date(2026, 11, 10)))
    assert day is not None
    assert day.checks == len(plan) and day.passed == sum(1 for _, r in plan if r == Cause.OK)
    assert day.watched_s == pytest.approx(want["watched"])
    assert day.down_s == pytest.approx(want["down"]) and want["down"] == 50 * 60
    assert day.degraded_s == pytest.approx(want["degraded"])
    # The three-hour gap is not watched: 1 h + 30 + 20 + 10 (held) + 10 min, not 5 h.
    assert want["watched"] == pytest.approx((60 + 30 + 20 + 10 + 10) * 60)

    got = ha.checked_time(s, camera_ids=[cid], first=date(2026, 11, 1), end=date(2026, 12, 1))
    seen = got[cid]
    assert seen.availability == pytest.approx(1 - want["down"] / want["watched"])
    assert seen.watched_share == pytest.approx(want["watched"] / (30 * 86400))


def test_monthly_api_gives_faults_and_checks_side_by_side(
    client: Any, tokens: dict[str, dict[str, str]], db_session: Any, health_settings: Any
) -> None:
    s, st = db_session, health_settings
    cid = camera_with_stream(s, st, "rtsp://127.0.0.1:9/monthly")
    t = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 23:30 GMT on 31 October
    plan = [(t + i * STEP, Cause.TIMED_OUT if 6 <= i < 9 else Cause.OK) for i in range(12)]
    record(s, st, cid, plan)
    # Two lost connections in a row opened a fault; three good checks marked it fixed.
    r = client.get(
        "/availability/monthly",
        params={"month": "2026-10", "months": 2, "camera_id": cid},
        headers=tokens["seg"],
    )
    assert r.status_code == 200, r.text
    rows = {row["month"]: row for row in r.json()}
    assert set(rows) == {"2026-10", "2026-11"}
    oct_, nov = rows["2026-10"]["from_checks"], rows["2026-11"]["from_checks"]
    # October: six good checks 23:30-23:55, each held 5 minutes: 30 minutes watched, all up.
    assert oct_["checks"] == 6 and oct_["passed"] == 6
    assert oct_["watched_hours"] == pytest.approx(0.5, abs=1e-3)
    assert oct_["down_hours"] == 0 and oct_["availability"] == 1.0
    # November: lost at 00:00, 00:05, 00:10 (15 minutes down), good from 00:15 to 00:25.
    assert nov["checks"] == 6 and nov["passed"] == 3
    assert nov["watched_hours"] == pytest.approx(25 / 60, abs=1e-3)
    assert nov["down_hours"] == pytest.approx(15 / 60, abs=1e-3)
    assert nov["availability"] == pytest.approx(1 - 15 / 25, abs=1e-5)
    # The faults' side is the register's own availability over the month.
    theirs = camera_availability(
        s,
        camera_id=cid,
        start=london_midnight(date(2026, 11, 1)),
        end=london_midnight(date(2026, 12, 1)),
    )
    assert rows["2026-11"]["fault_downtime_hours"] == pytest.approx(theirs.downtime_hours, abs=1e-3)
    assert rows["2026-11"]["fault_downtime_hours"] > 0

    # Every camera that can take faults when no camera is named; one never checked has null.
    other = camera_with_stream(s, st, "rtsp://127.0.0.1:9/never")
    everyone = client.get(
        "/availability/monthly", params={"month": "2026-11"}, headers=tokens["operator"]
    ).json()
    by_id = {row["camera_id"]: row for row in everyone}
    assert by_id[other]["from_checks"] is None and by_id[cid]["from_checks"]["checks"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "26-11"}, "month"),
        ({"month": "2026-11", "months": 14}, "months"),
        ({"month": "2026-11", "camera_id": 0}, "camera_id"),
    ],
)
def test_monthly_api_refuses_what_it_cannot_answer(
    client: Any, tokens: dict[str, dict[str, str]], params: dict[str, Any], field: str
) -> None:
    r = client.get("/availability/monthly", params=params, headers=tokens["seg"])
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.text


def test_monthly_api_is_for_fault_readers_only(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    r = client.get("/availability/monthly", params={"month": "2026-11"}, headers=tokens["crew"])
    assert r.status_code == 403
    assert client.get("/availability/monthly", params={"month": "2026-11"}).status_code == 401


def test_old_checks_are_deleted_and_their_days_kept(db_session: Any, health_settings: Any) -> None:
    s, st = db_session, health_settings
    cid = camera_with_stream(s, st, "rtsp://127.0.0.1:9/retention")
    old = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    record(s, st, cid, [(old, Cause.OK), (old + STEP, Cause.OK)])
    now = old + timedelta(days=93)
    assert hf.delete_old_checks(s, now=now, keep_days=92) >= 2
    left = s.scalar(
        select(func.count()).select_from(HealthCheck).where(HealthCheck.camera_id == cid)
    )
    assert left == 0
    day = s.get(HealthDay, (cid, date(2026, 6, 1)))
    assert day is not None and day.checks == 2 and day.watched_s == pytest.approx(300)


def test_the_board_puts_a_camera_whose_last_check_failed_first_among_its_health(
    client: Any, tokens: dict[str, dict[str, str]], db_session: Any, health_settings: Any
) -> None:
    """A lost connection opens its fault only at the second failure; until then the camera is
    still online, but the board lists it above the online cameras whose checks pass."""
    import re

    s, st = db_session, health_settings
    t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    good = camera_with_stream(s, st, "rtsp://127.0.0.1:9/a", name="Board Aaa good")
    lost = camera_with_stream(s, st, "rtsp://127.0.0.1:9/b", name="Board Bbb lost")
    record(s, st, good, [(t, Cause.OK)])
    record(s, st, lost, [(t, Cause.OK), (t + STEP, Cause.TIMED_OUT)])
    page = client.get("/health-board", params={"q": "Board "}, headers=tokens["seg"]).text
    rows = re.findall(r'data-camera="(\d+)" data-health="(\w+)"', page)
    assert rows == [(str(lost), "online"), (str(good), "online")], rows
    assert "connection timed out" in page


def test_the_share_watched_of_a_month_under_way_is_of_its_time_gone_by(
    db_session: Any, health_settings: Any
) -> None:
    s, st = db_session, health_settings
    cid = camera_with_stream(s, st, "rtsp://127.0.0.1:9/under-way")
    t = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 06:00 GMT on 1 December
    record(s, st, cid, [(t + i * STEP, Cause.OK) for i in range(13)])  # an hour watched
    now = t + timedelta(hours=6)  # noon: half of 1 December has gone by
    seen = ha.checked_time(
        s, camera_ids=[cid], first=date(2026, 12, 1), end=date(2027, 1, 1), now=now
    )[cid]
    assert seen.watched_share == pytest.approx(1 / 12)
    whole = ha.checked_time(s, camera_ids=[cid], first=date(2026, 12, 1), end=date(2027, 1, 1))
    assert whole[cid].watched_share == pytest.approx(3600 / (31 * 86400))
