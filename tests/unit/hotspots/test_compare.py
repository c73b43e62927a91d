"""Comparing two periods on in-memory points: the classification, counts inside each area, the
rate scaling, the shared grid and threshold, the table by ward, and the limits."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from shapely.geometry import box

from services.hotspots.compute.compare import (
    GROWTH,
    Ward,
    classify,
    compare_periods,
    rate_surface,
)
from services.hotspots.compute.points import Points
from shared.errors import InvalidInput
from shared.extent import GridTooLarge
from shared.grid import Grid

X0, Y0 = 575_000.0, 165_000.0


def cluster(cx: float, cy: float, n: int, spread: float = 40.0, seed: int = 0) -> Points:
    """``n`` points around (cx, cy), EPSG:27700 metres."""
    rng = np.random.default_rng(seed)
    x = cx + rng.normal(0, spread, n)
    y = cy + rng.normal(0, spread, n)
    t = np.full(n, np.datetime64(datetime(2022, 1, 1)), dtype="datetime64[s]")
    return Points(x, y, np.ones(n), t, np.full(n, "Burglary"))


def join(*parts: Points) -> Points:
    return Points(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.weight for p in parts]),
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.category for p in parts]),
    )


WEST = (X0, Y0)  # a cluster in both periods
EAST = (X0 + 3_000, Y0)  # only after: it appears
NORTH = (X0, Y0 + 3_000)  # only before: it goes
WARDS = [
    Ward("E1", "West ward", box(X0 - 1_500, Y0 - 1_500, X0 + 1_500, Y0 + 1_500)),
    Ward("E2", "East ward", box(X0 + 1_500, Y0 - 1_500, X0 + 4_500, Y0 + 1_500)),
    Ward("E3", "North ward", box(X0 - 1_500, Y0 + 1_500, X0 + 1_500, Y0 + 4_500)),
]


def test_classify_names_what_became_of_a_hotspot() -> None:
    assert classify(0, 0) == "none"
    assert classify(0, 5) == "appeared"
    assert classify(5, 0) == "gone"
    assert classify(100, 100 * GROWTH) == "grew"
    assert classify(100 * GROWTH, 100) == "shrank"
    assert classify(100, 110) == "stayed" and classify(110, 100) == "stayed"


def test_areas_appear_go_and_stay_with_their_incidents_and_wards() -> None:
    before = join(cluster(*WEST, 60, seed=1), cluster(*NORTH, 60, seed=2))
    after = join(cluster(*WEST, 60, seed=3), cluster(*EAST, 60, seed=4))
    res = compare_periods(
        before,
        after,
        days_before=30,
        days_after=30,
        radius_m=300,
        cell_m=50,
        percentile=80,
        wards=WARDS,
        max_cells=1_000_000,
    )
    by_ward = {a.ward: a for a in res.areas}
    assert by_ward["East ward"].change == "appeared"
    assert by_ward["North ward"].change == "gone"
    assert by_ward["West ward"].change in {"stayed", "grew", "shrank"}
    # Every incident of a cluster lies in its area's cells (the clusters are tight).
    east, north, west = by_ward["East ward"], by_ward["North ward"], by_ward["West ward"]
    assert (east.incidents_before, east.incidents_after) == (0, 60)
    assert (north.incidents_before, north.incidents_after) == (60, 0)
    assert west.incidents_before == 60 and west.incidents_after == 60
    assert east.area_before_m2 == 0 < east.area_after_m2
    assert north.area_after_m2 == 0 < north.area_before_m2
    assert {a.rank for a in res.areas} == set(range(1, len(res.areas) + 1))
    # The biggest changes (60 incidents each way) come before the area that stayed.
    assert res.areas[-1].ward == "West ward"
    assert res.stats["changes"]["appeared"] == 1 and res.stats["changes"]["gone"] == 1
    # The table by ward: every ward, by name, with the incidents in it.
    table = {w.name: w for w in res.wards}
    assert [w.name for w in res.wards] == sorted(table)
    assert (table["East ward"].incidents_before, table["East ward"].incidents_after) == (0, 60)
    assert table["East ward"].change == "appeared" and table["North ward"].change == "gone"
    assert table["West ward"].incidents_before == table["West ward"].incidents_after == 60
    # The difference surface is after minus before, on one grid.
    assert np.allclose(res.difference, res.after - res.before)
    assert res.difference.max() > 0 > res.difference.min()


def test_one_threshold_for_both_periods_so_a_quiet_period_has_no_hotspot() -> None:
    busy = cluster(*WEST, 200, seed=5)
    quiet = cluster(*WEST, 5, spread=400, seed=6)
    res = compare_periods(
        busy, quiet, days_before=30, days_after=30, radius_m=300, cell_m=50, max_cells=10**6
    )
    pooled = np.concatenate([res.before[res.before > 0], res.after[res.after > 0]])
    assert res.threshold == pytest.approx(float(np.percentile(pooled, 95)))
    assert all(a.change in {"gone", "shrank"} for a in res.areas)
    assert sum(a.area_after_m2 for a in res.areas) < sum(a.area_before_m2 for a in res.areas)


def test_rates_per_30_days_compare_windows_of_different_lengths() -> None:
    grid = Grid.covering(X0 - 1_000, Y0 - 1_000, X0 + 1_000, Y0 + 1_000, 50)
    pts = cluster(*WEST, 50, seed=7)
    opts = {"radius_m": 300.0, "kernel": "quartic", "method": "exact", "weights": True}
    month = rate_surface(pts, grid, days=30, **opts)  # type: ignore[arg-type]
    quarter = rate_surface(pts, grid, days=90, **opts)  # type: ignore[arg-type]
    assert np.allclose(quarter * 3, month)
    # The same rate in a window three times as long, three times the incidents: no change.
    triple = join(pts, pts, pts)
    res = compare_periods(
        pts, triple, days_before=30, days_after=90, radius_m=300, cell_m=50, max_cells=10**6
    )
    assert np.allclose(res.difference, 0.0, atol=1e-9)
    assert all(a.change == "stayed" for a in res.areas)


def test_an_empty_period_is_compared_and_two_are_refused() -> None:
    pts = cluster(*WEST, 30, seed=8)
    empty = Points(np.array([]), np.array([]), np.array([]),
                   np.array([], dtype="datetime64[s]"), np.array([], dtype=str))  # fmt: skip
    res = compare_periods(
        pts, empty, days_before=30, days_after=30, radius_m=300, cell_m=50, max_cells=10**6
    )
    assert res.areas and all(a.change == "gone" for a in res.areas)
    with pytest.raises(InvalidInput) as err:
        compare_periods(empty, empty, days_before=30, days_after=30, max_cells=10**6)
    assert (err.value.errors or [{}])[0]["field"] == "input"


def test_limits_and_bad_parameters_are_refused_before_any_surface() -> None:
    pts = cluster(*WEST, 30, seed=9)
    with pytest.raises(GridTooLarge):
        compare_periods(pts, pts, days_before=1, days_after=1, radius_m=300, cell_m=1,
                        max_cells=10_000)  # fmt: skip
    for kwargs, field in (
        ({"method": "slow"}, "method"),
        ({"kernel": "gaussian"}, "kernel"),
        ({"radius_m": -1.0}, "radius_m"),
        ({"percentile": 100.0}, "percentile"),
    ):
        with pytest.raises(InvalidInput) as err:
            compare_periods(pts, pts, days_before=1, days_after=1, max_cells=10**6, **kwargs)
        assert (err.value.errors or [{}])[0]["field"] == field
