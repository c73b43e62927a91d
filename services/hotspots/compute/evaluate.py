"""How well a hotspot surface predicts later incidents: hit rate and PAI at fixed area shares."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from shared.grid import Grid
from shared.metrics import accuracy_at_area

FloatArray = npt.NDArray[np.float64]


def later_counts(grid: Grid, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """Number of incidents per cell, shape (ny, nx); points in metres (EPSG:27700).

    Points outside the grid are not counted.
    """
    row, col, inside = grid.cell_index(x, y)
    counts = np.zeros(grid.shape, dtype=np.float64)
    np.add.at(counts, (row[inside], col[inside]), 1.0)
    return counts


def evaluate_surface(
    surface: npt.ArrayLike,
    grid: Grid,
    later_x: npt.ArrayLike,
    later_y: npt.ArrayLike,
    *,
    fractions: Sequence[float] = (0.01, 0.05, 0.10),
    mask: npt.ArrayLike | None = None,
) -> list[dict[str, float | int]]:
    """Hit rate and PAI of a surface's hottest cells against incidents that happened later.

    Args:
        surface: score per cell, shape (ny, nx) over ``grid``, row 0 north; higher is hotter.
            NaN cells are never chosen.
        grid: the grid of ``surface`` (EPSG:27700).
        later_x: eastings of the later incidents, metres, shape (n,).
        later_y: northings of the later incidents, metres, shape (n,).
        fractions: shares of the study area's cells to choose, each in (0, 1].
        mask: bool (ny, nx), True for cells in the study area; cells and incidents outside it
            (or outside the grid) are left out of the area and of the total. None means all.

    Returns:
        one row per fraction: ``{"area_fraction", "cells", "hit_rate", "pai", "hits",
        "total"}``; ``area_fraction`` is the share actually chosen (whole cells).
    """
    s = np.asarray(surface, dtype=np.float64)
    if s.shape != grid.shape:
        raise ValueError(f"surface shape {s.shape} does not match the grid {grid.shape}")
    m = np.ones(grid.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != grid.shape:
        raise ValueError("mask must have the grid's shape")
    scores = np.where(np.isnan(s), -np.inf, s)[m]
    outcomes = later_counts(grid, later_x, later_y)[m]
    rows: list[dict[str, float | int]] = []
    for f in fractions:
        acc = accuracy_at_area(scores, outcomes, f)
        rows.append(
            {
                "area_fraction": acc.area_fraction,
                "cells": acc.cells_selected,
                "hit_rate": acc.hit_rate,
                "pai": acc.pai,
                "hits": acc.hits,
                "total": acc.total,
            }
        )
    return rows
