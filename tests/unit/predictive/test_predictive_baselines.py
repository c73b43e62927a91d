"""Baselines against hand computations on tiny examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.predictive.compute.baselines import (
    naive_counts,
    prospective_kernel,
    prospective_surface,
    smooth_cells,
)
from services.predictive.compute.events import Events
from services.predictive.compute.methods import make_scorer
from shared.grid import Grid

GRID = Grid(100.0, 500_000.0, 200_000.0, 5, 4)  # 5 columns, 4 rows of 100 m


def _centre(row: int, col: int) -> tuple[float, float]:
    return 500_000 + 100 * col + 50.0, 200_400 - 100 * row - 50.0


def test_naive_counts_by_hand() -> None:
    # (row, col, t): window [72, 100) keeps t = 72, 80, 99.9; drops 100 (as_of) and 71.9.
    pts = [(0, 0, 80.0), (0, 0, 99.9), (2, 3, 72.0), (2, 3, 71.9), (1, 1, 100.0)]
    x = [_centre(r, c)[0] + 10 for r, c, _ in pts]
    y = [_centre(r, c)[1] - 10 for r, c, _ in pts]
    t = [p[2] for p in pts]
    got = naive_counts(x, y, t, GRID, 100.0, 28.0)
    want = np.zeros((4, 5))
    want[0, 0] = 2
    want[2, 3] = 1
    np.testing.assert_array_equal(got, want)
    scorer = make_scorer("naive28")
    scorer.fit(Events(np.array(x), np.array(y), np.array(t)), GRID, 100.0)
    np.testing.assert_allclose(scorer.score(7.0), want * 7 / 28)


def test_kde_baseline_by_hand() -> None:
    x = np.array([500_120.0, 500_260.0, 500_400.0])
    y = np.array([200_310.0, 200_150.0, 200_390.0])
    t = np.array([10.0, 20.0, 60.0])  # the last one is after as_of
    r = 200.0
    scorer = make_scorer("kde", radius_m=r, window_days=None)
    scorer.fit(Events(x, y, t), GRID, 50.0)
    got = scorer.score(1.0)
    want = np.zeros((4, 5))
    for row in range(4):
        for col in range(5):
            cx, cy = _centre(row, col)
            for px, py in zip(x[:2], y[:2], strict=True):
                d2 = (cx - px) ** 2 + (cy - py) ** 2
                if d2 <= r * r:
                    want[row, col] += 3 / (math.pi * r * r) * (1 - d2 / (r * r)) ** 2
    # Events per cell per day: density per m^2 times the cell area over the 40-day span.
    want *= 100.0 * 100.0 / (50.0 - 10.0)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_prospective_kernel_bands() -> None:
    k = prospective_kernel(100.0, 250.0)
    assert k.shape == (5, 5)
    assert k[2, 2] == 1.0  # own cell: band 0
    assert k[2, 3] == pytest.approx(1 / 2)  # next cell: band 1
    assert k[3, 3] == pytest.approx(1 / 2)  # diagonal: 1.41 cells -> band 1
    assert k[2, 4] == pytest.approx(1 / 3)  # two cells: band 2
    assert k[3, 4] == pytest.approx(1 / 3)  # 2.24 cells = 224 m <= 250 m: band 2
    assert k[4, 4] == 0.0  # 283 m is beyond the radius


def test_prospective_by_hand() -> None:
    # Events: (x, y, t); one just west of the grid still reaches the first column.
    ev = [
        (500_130.0, 200_330.0, 95.0),  # row 0, col 1, week 0
        (500_310.0, 200_120.0, 85.0),  # row 2, col 3, week 2
        (499_950.0, 200_250.0, 99.0),  # outside, row 1, col -1, week 0
        (500_210.0, 200_210.0, 30.0),  # 10 weeks ago: too old
        (500_210.0, 200_210.0, 101.0),  # after as_of
    ]
    x, y, t = (np.array(v) for v in zip(*ev, strict=True))
    r, weeks, as_of = 200.0, 8, 100.0
    got = prospective_surface(x, y, t, GRID, as_of, radius_m=r, weeks=weeks)
    want = np.zeros((4, 5))
    for px, py, pt in ev:
        if not (as_of - 7 * weeks <= pt < as_of):
            continue
        erow = math.floor((200_400 - py) / 100)
        ecol = math.floor((px - 500_000) / 100)
        ex, ey = _centre(erow, ecol)
        w_time = 1 / (1 + math.floor((as_of - pt) / 7))
        for row in range(4):
            for col in range(5):
                cx, cy = _centre(row, col)
                d = math.hypot(cx - ex, cy - ey)
                if d <= r + 1e-9:
                    want[row, col] += w_time / (1 + round(d / 100))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[1, 0] > 0  # reached from the event outside the grid


def test_smooth_cells_keeps_total() -> None:
    a = np.zeros((10, 12))
    a[0, 0] = 3.0
    a[5, 6] = 1.0
    s = smooth_cells(a, 1.5)
    assert s.sum() == pytest.approx(4.0)
    assert s[5, 7] > 0 and s[5, 6] < 1.0
    np.testing.assert_array_equal(smooth_cells(a, 0.0), a)
