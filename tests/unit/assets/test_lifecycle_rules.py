"""Pure rules: interval union, downtime, view cones, health and SLA, against independent checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.assets import lifecycle as lc

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _dt(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


intervals = st.lists(
    st.tuples(st.integers(0, 500), st.integers(0, 120)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(intervals, st.integers(0, 300), st.integers(1, 400))
def test_covered_seconds_matches_a_minute_grid(
    ivs: list[tuple[int, int]], start: int, length: int
) -> None:
    grid = np.zeros(1000, dtype=bool)
    for a, b in ivs:
        grid[a:b] = True
    expected = int(grid[start : start + length].sum()) * 60
    got = lc.covered_seconds([(_dt(a), _dt(b)) for a, b in ivs], _dt(start), _dt(start + length))
    assert got == expected


@given(intervals)
def test_merged_intervals_are_disjoint_and_sorted(ivs: list[tuple[int, int]]) -> None:
    merged = lc.merge_intervals([(_dt(a), _dt(b)) for a, b in ivs])
    for (a0, b0), (a1, _) in zip(merged, merged[1:], strict=False):
        assert b0 < a1 and a0 < b0


def test_view_cone_area_and_direction() -> None:
    for fov in (30.0, 90.0, 180.0):
        cone = lc.view_cone(500_000.0, 170_000.0, 90.0, fov, 100.0, arc_points=64)
        assert cone is not None
        exact = math.pi * 100.0**2 * fov / 360.0
        assert abs(cone.area - exact) / exact < 0.01
        assert cone.centroid.x > 500_000.0 and abs(cone.centroid.y - 170_000.0) < 1e-6
    disc = lc.view_cone(0.0, 0.0, None, 360.0, 10.0)
    assert disc is not None and abs(disc.area - math.pi * 100) / (math.pi * 100) < 0.01
    assert lc.view_cone(0.0, 0.0, 10.0, None, 10.0) is None
    assert lc.view_cone(0.0, 0.0, None, 90.0, 10.0) is None


def test_health_from_open_fault_categories() -> None:
    assert lc.health_for([]) == "online"
    assert lc.health_for(["intermittent_picture", "vandalism"]) == "degraded"
    assert lc.health_for(["intermittent_picture", "no_picture"]) == "offline"
    assert lc.health_for(["cabling"]) == "offline"


def test_sla_status() -> None:
    s = lc.sla_status("no_picture", T0, None, T0 + timedelta(hours=25))
    assert s.breached and s.target_hours == 24 and s.due_at == T0 + timedelta(hours=24)
    s = lc.sla_status("no_picture", T0, T0 + timedelta(hours=23), T0 + timedelta(days=9))
    assert not s.breached and abs(s.elapsed_hours - 23) < 1e-9


def test_overlap_share() -> None:
    assert lc.overlap_share(100.0, 50.0, 25.0) == 0.5
    assert lc.overlap_share(0.0, 50.0, 0.0) == 0.0


def test_every_state_has_a_transition_entry_and_decommissioned_is_final() -> None:
    assert set(lc.TRANSITIONS) == set(lc.LIFECYCLES)
    for targets in lc.TRANSITIONS.values():
        assert set(targets) <= set(lc.LIFECYCLES)
    assert lc.allowed_next("decommissioned") == ()
